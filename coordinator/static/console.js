// Mission Control: one page over the coordinator's JSON API (the same one the CLI reads).
// No framework and no CDN: many production networks cannot reach one.
"use strict";

let session = null;
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "onclick" || k === "onsubmit") node[k] = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : String(c ?? ""));
  return node;
}

async function api(path, method = "GET", body = undefined) {
  const headers = {};
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    if (session && session.csrf) headers["X-CSRF-Token"] = session.csrf;
  }
  const response = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const payload = await response.json().catch(() => ({}));
  if (response.status === 401 && path !== "/login") { showLogin(); throw new Error("log in"); }
  if (!response.ok) throw new Error(payload.message || payload.error || response.status);
  return payload;
}

function table(columns, rows, render) {
  const t = el("table");
  t.append(el("tr", {}, ...columns.map((c) => el("th", {}, c))));
  if (!rows.length) {
    t.append(el("tr", {}, el("td", { colspan: columns.length, class: "empty" }, "nothing here")));
  }
  for (const row of rows) t.append(el("tr", {}, ...render(row).map((c) => el("td", {}, c))));
  return t;
}

const ago = (seconds) => {
  const s = Math.max(0, Math.round(Date.now() / 1000 - seconds));
  return s < 120 ? s + " s" : s < 7200 ? Math.round(s / 60) + " min" : Math.round(s / 3600) + " h";
};
const json = (value) => el("pre", {}, JSON.stringify(value, null, 1));
const link = (href, text) => el("a", { href }, text);
const wfLink = (id) => link("#workflow/" + encodeURIComponent(id), id);

// The approver needs the claim itself, not the envelope around it.
const triggerData = (trigger) => (trigger && "data" in trigger ? trigger.data : trigger);
const when = (epochSeconds) => (epochSeconds == null ? "" : new Date(epochSeconds * 1000).toLocaleString());

// -- inbox ---------------------------------------------------------------------------------
async function decide(id, kind, note) {
  await api("/v1/workflows/" + encodeURIComponent(id) + "/signals", "POST",
    { signal: kind, by: session.name, note: note || null });
  $("updated").textContent = "· " + kind + " sent for " + id;
}

function approvalCell(row) {
  if (session.role !== "approver") return el("span", { class: "empty" }, "read-only");
  const note = el("input", { placeholder: "note", "data-note": row.workflow_id });
  const buttons = ["approve", "reject"].map((kind) => el("button", {
    class: kind, "data-action": kind, "data-workflow": row.workflow_id,
    onclick: () => decide(row.workflow_id, kind, note.value).catch(showError),
  }, kind));
  return el("div", {}, note, ...buttons);
}

async function renderInbox(view) {
  const inbox = await api("/v1/inbox");
  const details = await Promise.all(inbox.needs_input.map(
    (w) => api("/v1/workflows/" + encodeURIComponent(w.workflow_id))));
  const outputs = (d) => Object.fromEntries(Object.entries(d.state.steps)
    .filter(([, s]) => s.output != null).map(([k, s]) => [k, s.output]));
  view.append(el("h2", {}, "Needs your input (" + inbox.needs_input.length + ")"),
    table(["workflow", "definition", "gate", "waiting", "input", "outputs so far", "decide"],
      details, (d) => [wfLink(d.workflow_id), d.definition + "@" + d.version,
        d.waiting_for.prompt + (d.waiting_for.escalated_to ? " · escalated to " + d.waiting_for.escalated_to : ""),
        ago(d.updated_at), json(triggerData(d.state.trigger)), json(outputs(d)), approvalCell(d)]));
  await renderToolApprovals(view); // tool_approvals.js: calls parked by require_approval
  view.append(el("h2", {}, "Errors (" + inbox.errors.length + ")"),
    await errorsTable(inbox.errors),
    el("h2", {}, "Completed (" + inbox.completed.length + ")"),
    table(["workflow", "definition", "status", "reason", "ended"], inbox.completed,
      (w) => [wfLink(w.workflow_id), w.definition + "@" + w.version, w.status, w.reason,
        ago(w.updated_at) + " ago"]));
}

// Each failed workflow links to the step that failed, the agent run behind it (its trace)
// and the dead letter that run left.
async function errorsTable(errors) {
  const failures = errors.length ? (await api("/v1/failures")).failures : [];
  const byWorkflow = (id) => failures.filter((f) => f.workflow_id === id);
  return table(["workflow", "definition", "reason", "failed step", "trace / dead letter"], errors,
    (w) => [wfLink(w.workflow_id), w.definition + "@" + w.version, w.reason,
      el("div", {}, ...byWorkflow(w.workflow_id).map((f) => el("div", {}, f.step + (f.agent ? " (" + f.agent + ")" : "")))),
      el("div", {}, ...byWorkflow(w.workflow_id).map(failureLinks))]);
}

function failureLinks(f) {
  if (!f.run_id) return el("span", { class: "empty" }, "no dead letter found");
  const run = "#run/" + encodeURIComponent(f.agent) + "/" + encodeURIComponent(f.run_id);
  return el("div", {}, el("a", { href: run, "data-trace": f.workflow_id }, "trace"), " · ",
    el("a", { href: run + "/dead-letter", "data-dead-letter": f.workflow_id },
      "dead letter" + (f.replayed ? " (replayed)" : "")));
}

// -- one agent run: its trace and its dead letter --------------------------------------------
async function renderRun(view, agent, runId) {
  const [trace, letters] = await Promise.all([
    api("/v1/runs/" + encodeURIComponent(agent) + "/" + encodeURIComponent(runId)),
    api("/v1/dead-letters?agent=" + encodeURIComponent(agent))]);
  const h = trace.header;
  const mine = letters.dead_letters.filter((l) => l.details.run_id === runId);
  view.append(el("h2", { id: "run-title" }, "Run " + runId + " · " + agent + " · " + h.outcome),
    table(["input", "workflow", "started", "ended", "error"], [h],
      (x) => [x.topic + "/" + x.partition + "@" + x.offset, x.workflow_id ? wfLink(x.workflow_id) : "",
        x.started ?? "", x.ended ?? "", x.error ? el("span", { class: "error" }, x.error) : ""]),
    el("h2", {}, "Steps"),
    table(["#", "step", "status", "attempts", "result / error"], trace.steps,
      (st) => [st.index, st.name, st.status, st.attempts,
        st.error ? el("span", { class: "error" }, st.error) : json(st.result)]),
    el("h2", { id: "dead-letter" }, "Dead letter"),
    table(["time", "from", "error", "reason", "attempts", "replay"], mine,
      (l) => [l.time, l.topic + "/" + l.partition + "@" + l.offset, l.error_type, l.reason,
        l.details.attempts, l.replayed ? "replayed" : replayButton(l)]));
}

function replayButton(l) {
  if (session.role !== "approver") return "";
  return el("button", {
    onclick: () => api("/v1/dead-letters/" + encodeURIComponent(l.agent) + "/replay", "POST",
      { ids: [l.id] }).then(refresh, showError),
  }, "replay");
}

// -- workflows -----------------------------------------------------------------------------
const filters = { status: "", definition: "", version: "", older_than_s: "" };

async function renderWorkflows(view) {
  const inputs = Object.keys(filters).map((name) => {
    const input = el("input", { placeholder: name, value: filters[name], name });
    input.onchange = () => { filters[name] = input.value; refresh(); };
    return input;
  });
  const query = new URLSearchParams(Object.entries(filters).filter(([, v]) => v));
  const list = await api("/v1/workflows?" + query);
  view.append(el("div", { class: "filters" }, ...inputs),
    table(["workflow", "definition", "status", "started", "updated", "reason"], list.workflows,
      (w) => [wfLink(w.workflow_id), w.definition + "@" + w.version, w.status,
        ago(w.started_at) + " ago", ago(w.updated_at) + " ago", w.reason]));
}

async function renderWorkflow(view, id) {
  const path = "/v1/workflows/" + encodeURIComponent(id);
  const [detail, history] = await Promise.all([api(path), api(path + "/history")]);
  const steps = Object.entries(detail.state.steps);
  view.append(el("h2", {}, id + " · " + detail.definition + "@" + detail.version + " · " + detail.status),
    el("h2", {}, "Steps"),
    table(["step", "status", "attempts", "task (agent run)", "output / error", "decided by"], steps,
      ([name, s]) => [name, s.status, s.attempts, s.task_id ? el("code", {}, s.task_id) : "",
        s.error ? el("span", { class: "error" }, s.error) : json(s.output),
        s.decided_by ? s.decided_by + (s.note ? ": " + s.note : "") : ""]),
    el("h2", {}, "Timers"),
    table(["timer", "step", "fires at"], detail.timers,
      (t) => [t.purpose ?? t.kind, t.step_id ?? "", when(t.due)]),
    el("h2", {}, "Timeline"),
    table(["time", "event", "details"], history.history, (h) => [h.time, h.type, json(h.data)]));
}

// -- fleet ---------------------------------------------------------------------------------
const rate = (r) => (r == null ? "–" : r.toFixed(r < 10 ? 2 : 0));

async function renderFleet(view) {
  const [fleet, gateways, budgets, changes] = await Promise.all([
    api("/v1/fleet"), api("/v1/gateways"), api("/v1/budgets"), api("/v1/registry/changes")]);
  const rows = fleet.agents.flatMap((a) => a.versions.map((v) => ({ a, v })));
  view.append(el("h2", {}, "Agents"),
    table(["agent", "version", "status", "instances (last heartbeat)", "records/s", "errors",
      "dead-lettered", "DLQ pending", "lag", "owner"],
      rows, ({ a, v }) => [a.agent_id, v.version, v.status,
        el("div", {}, ...v.instances.map((i) => el("div", {
          class: i.stale ? "stale" : "", "data-instance": i.instance,
        }, i.instance + " · " + new Date(i.last_heartbeat).toLocaleTimeString() + (i.stale ? " · stale" : "")))),
        el("span", { "data-rate": a.agent_id + "@" + v.version }, rate(v.records_per_s)),
        el("span", { "data-errors": a.agent_id + "@" + v.version }, v.errors),
        el("span", { "data-dead-lettered": a.agent_id + "@" + v.version }, v.dead_lettered),
        el("span", { "data-dlq": a.agent_id }, a.dead_letters),
        a.lag ?? "?", a.owner]),
    el("p", { class: "note" }, "records/s: between each live instance's last two heartbeats; " +
      "errors and dead-lettered: totals since each instance started; DLQ pending: dead letters " +
      "on the agent's DLQ topic not yet replayed."),
    el("h2", {}, "Gateways"),
    el("p", { class: "note" }, "published: " + (gateways.published.map((b) => b.name + " " +
      b.digest.slice(0, 19)).join(", ") || "nothing")),
    table(["gateway", "bundle", "policy digest", "loaded", "state"], gateways.gateways,
      (g) => [g.gateway, g.bundle, el("code", { "data-gateway-digest": g.gateway }, g.digest || "none"),
        when(Date.parse(g.loaded_at) / 1000),
        g.ok ? (g.current ? "current" : el("span", { class: "stale" }, "behind the published bundle"))
          : el("span", { class: "error" }, "ERROR " + (g.error || ""))]),
    el("h2", {}, "Budgets"),
    el("p", { class: "note" }, budgets.problem ||
      "flagged at " + Math.round(budgets.warn_at * 100) + " % of a limit (warn_at in the policy data)"),
    table(["agent", "budget", "window", "spent", "state"], budgets.budgets, budgetCells),
    el("h2", {}, "Registry changes"),
    table(["time", "agent", "version", "change", "detail"], changes.changes,
      (c) => [when(Date.parse(c.time) / 1000), c.agent_id, c.version ?? "",
        el("span", { "data-change": c.kind + ":" + c.agent_id + "@" + (c.version ?? "") }, c.kind.replace("_", " ")),
        c.detail]));
}

function budgetCells(b) {
  const parts = [["tokens", b.tokens, b.max_tokens, b.used_tokens], ["cost", b.cost, b.max_cost, b.used_cost]]
    .filter(([, , limit]) => limit != null)
    .map(([k, spent, limit, used]) => spent + " of " + limit + " " + k + " (" + Math.round(used * 100) + " %)");
  const state = b.exceeded ? "exceeded" : b.approaching ? "approaching" : "ok";
  return [b.agent, b.budget, b.window, parts.join(", "),
    el("span", { class: "budget-" + state, "data-budget": b.agent + "/" + b.budget }, state)];
}

// -- governance ----------------------------------------------------------------------------
const decisionFilters = { agent: "", action: "", allow: "", reason: "", digest: "" };
let bank = "";

async function renderGovernance(view) {
  const inputs = Object.keys(decisionFilters).map((name) => {
    const input = el("input", { placeholder: name, value: decisionFilters[name], name });
    input.onchange = () => { decisionFilters[name] = input.value; refresh(); };
    return input;
  });
  const query = new URLSearchParams(Object.entries(decisionFilters).filter(([, v]) => v));
  const [decisions, letters] = await Promise.all([api("/v1/decisions?" + query), api("/v1/dead-letters")]);
  const bankInput = el("input", { placeholder: "memory bank", value: bank });
  bankInput.onchange = () => { bank = bankInput.value; refresh(); };
  view.append(el("h2", {}, "Decisions"), el("div", { class: "filters" }, ...inputs),
    table(["time", "agent", "action", "resource", "result", "reasons", "policy digest"],
      decisions.decisions, (d) => [d.time, d.input.agent.id + "@" + d.input.agent.version,
        d.input.action, d.input.resource.kind + ":" + d.input.resource.name,
        el("span", { class: d.decision.allow ? "allow" : "deny" }, d.decision.allow ? "allow" : "deny"),
        d.decision.reasons.join("; "), el("code", {}, (d.policy_digest || "").slice(0, 19))]),
    el("h2", {}, "Dead letters"),
    table(["time", "agent", "from", "error", "reason", "replay"], letters.dead_letters,
      (l) => [l.time, l.agent, l.topic + "/" + l.partition + "@" + l.offset, l.error_type, l.reason,
        l.replayed ? "replayed" : session.role === "approver" ? el("button", {
          onclick: () => api("/v1/dead-letters/" + encodeURIComponent(l.agent) + "/replay", "POST",
            { ids: [l.id] }).then(refresh, showError),
        }, "replay") : ""]),
    el("h2", {}, "Memory audit"), el("div", { class: "filters" }, bankInput));
  if (bank) {
    const audit = await api("/v1/memory/" + encodeURIComponent(bank) + "/audit");
    view.append(table(["time", "op", "key", "by", "pii", "value"], audit.changes,
      (c) => [c.time, c.op, c.key, JSON.stringify(c.provenance), c.pii.join(", "), json(c.value)]));
  }
}

// -- shell ---------------------------------------------------------------------------------
const views = { inbox: renderInbox, workflows: renderWorkflows, fleet: renderFleet, governance: renderGovernance };

async function refresh() {
  if (!session) return;
  const [tab, arg] = (location.hash.slice(1) || "inbox").split("/");
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.tab === tab);
  const view = el("section", { id: "view" });
  try {
    if (tab === "workflow") await renderWorkflow(view, decodeURIComponent(arg));
    else if (tab === "run") await renderRun(view, ...location.hash.slice(1).split("/").slice(1, 3).map(decodeURIComponent));
    else await (views[tab] || renderInbox)(view);
  } catch (e) { view.append(el("p", { class: "error" }, String(e.message || e))); }
  $("view").replaceWith(view);
  if (tab === "run" && location.hash.endsWith("/dead-letter")) $("dead-letter").scrollIntoView();
  $("updated").textContent = "· updated " + new Date().toLocaleTimeString();
}

function showError(e) { $("updated").textContent = "· " + (e.message || e); }

function showLogin() {
  session = null;
  $("login").hidden = false; $("tabs").hidden = true; $("logout").hidden = true;
  $("who").textContent = ""; $("view").replaceChildren();
}

async function loggedIn(info) {
  session = info;
  $("login").hidden = true; $("tabs").hidden = false; $("logout").hidden = false;
  $("who").textContent = info.name + " (" + info.role + ")";
  await refresh();
  const events = new EventSource("/v1/stream");
  events.addEventListener("changed", () => refresh());
}

document.addEventListener("DOMContentLoaded", async () => {
  $("login").onsubmit = async (event) => {
    event.preventDefault();
    try {
      await loggedIn(await api("/login", "POST",
        { token: $("login-token").value, name: $("login-name").value }));
    } catch (e) { $("login-error").textContent = e.message; }
  };
  $("logout").onclick = async () => { await api("/logout", "POST"); location.reload(); };
  window.addEventListener("hashchange", refresh);
  try { await loggedIn(await api("/v1/session")); } catch (e) { showLogin(); }
});
