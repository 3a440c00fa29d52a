// Mission Control: tool calls a policy parked for a person (require_approval), shown in the
// inbox beside the workflow gates. Kept apart from console.js: it only needs el/api/json/ago,
// session and refresh from there, and renderInbox calls renderToolApprovals(view).
"use strict";

async function resolveToolCall(id, verdict, body) {
  await api("/v1/tool-approvals/" + encodeURIComponent(id) + "/" + verdict, "POST", body);
  $("updated").textContent = "· " + verdict + " sent for " + id;
}

function toolDecisionCell(a) {
  if (session.role !== "approver") return el("span", { class: "empty" }, "read-only");
  const original = JSON.stringify(a.arguments, null, 1);
  // Prefilled with the agent's arguments: changing them approves the call with the edit.
  const args = el("textarea", { rows: 3, "data-arguments": a.id });
  args.value = original;
  const note = el("input", { placeholder: "note (required to reject)", "data-note": a.id });
  const approve = () => {
    const body = { note: note.value || null, by: session.name };
    if (args.value.trim() !== original.trim()) body.arguments = JSON.parse(args.value);
    return resolveToolCall(a.id, "approve", body);
  };
  const reject = () => {
    if (!note.value) throw new Error("a rejection needs a note: the agent's step fails with it");
    return resolveToolCall(a.id, "reject", { note: note.value, by: session.name });
  };
  const button = (kind, action) => el("button", {
    class: kind, "data-action": kind + "-call", "data-approval": a.id,
    onclick: () => Promise.resolve().then(action).then(refresh).catch(showError),
  }, kind);
  return el("div", { class: "tool-decision" }, args, note, button("approve", approve),
    button("reject", reject));
}

async function renderToolApprovals(view) {
  const pending = (await api("/v1/tool-approvals?state=pending")).approvals;
  const epoch = (iso) => Date.parse(iso) / 1000;
  view.append(el("h2", {}, "Needs your input · tool calls (" + pending.length + ")"),
    table(["approval", "agent", "tool", "arguments", "why", "waiting", "deadline", "decide"],
      pending, (a) => [el("code", {}, a.id), a.agent + "@" + a.version, a.tool,
        el("div", {}, a.pii.length ? el("span", { class: "empty" }, "holds " + a.pii.join(", ")) : "",
          json(a.arguments)), a.reasons.join("; "), ago(epoch(a.requested_at)),
        new Date(a.deadline).toLocaleString(), toolDecisionCell(a)]));
}
