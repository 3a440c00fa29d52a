"""One claim, one trace: a fleet's processes export spans to a real OpenTelemetry Collector."""

from __future__ import annotations

import json
import secrets
import urllib.request
from pathlib import Path
from typing import Any

from longboat.devinfra import free_port
from longboat.devinfra._otelcol import CollectorNode, read_spans
from longboat.fleet import FleetPaths, load_fleet, read_state
from tests.e2e.conftest import RunCli
from tests.helpers import assert_eventually_sync

REPO = Path(__file__).resolve().parents[2]

WORKFLOW = """\
name: traced-claim
version: 1
trigger: {{topic: {topic}, type: claims.submitted, workflow_id: "${{event.data.claim_id}}"}}
steps:
  - id: triage
    task: {{agent: triage, input: {{claim: "${{event.data}}"}}}}
  - id: pay
    task:
      agent: payments
      input: {{claim: "${{event.data.claim_id}}", amount: "${{event.data.amount}}"}}
"""

FLEET = """\
name: {name}
root: {root}
kafka: {{bootstrapServers: "{bootstrap}", topicPrefix: {prefix}, partitions: 1}}
topics: {{{topic}: 1, claims.submitted: 1, claims.triaged: 1}}
registry: {{port: {registry}}}
gateway: {{port: {gateway}, opaTimeoutMs: 2000, opa: {{port: {opa}}}}}
coordinator: {{port: {coordinator}}}
policies: policies
workflows: [{workflow}]
tools:
  payments: {{kind: python, callable: "examples.claims.payments:pay"}}
agents:
  - {{name: triage, module: "examples.claims.triage:agent", version: "1.0",
     capabilities: ["memory:claims"], owner: claims-team, riskTier: high}}
  - {{name: payments, module: "examples.claims.specialists:payments", version: "1.0",
     capabilities: ["tool:payments"], owner: claims-team, riskTier: high}}
"""

Span = dict[str, Any]


def _workflow(url: str, token: str, workflow_id: str) -> dict[str, Any] | None:
    request = urllib.request.Request(
        f"{url}/v1/workflows", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        body: dict[str, list[dict[str, Any]]] = json.loads(response.read())
    found = [w for w in body["workflows"] if w["workflow_id"] == workflow_id]
    return found[0] if found else None


def _one(spans: list[Span], service: str, name: str) -> Span:
    found = [s for s in spans if s["service"] == service and s["name"] == name]
    assert len(found) == 1, (service, name, sorted((s["service"], s["name"]) for s in spans))
    return found[0]


def _ancestors(span: Span, by_id: dict[str, Span]) -> list[Span]:
    chain: list[Span] = []
    parent = by_id.get(span.get("parentSpanId", ""))
    while parent is not None:
        chain.append(parent)
        parent = by_id.get(parent.get("parentSpanId", ""))
    return chain


def _complete(spans: list[Span]) -> bool:
    names = {(s["service"], s["name"]) for s in spans}
    wanted = {
        ("longboat-coordinator", "dispatch payments"),
        ("longboat-agent-triage", "invoke_agent triage"),
        ("longboat-agent-payments", "invoke_agent payments"),
        ("longboat-agent-payments", "execute_tool payments"),
        ("longboat-gateway", "policy tool.invoke"),
        ("longboat-gateway", "policy memory.write"),
    }
    return wanted <= names and any(n.startswith("chat ") for _, n in names)


def test_one_claim_is_one_trace_across_the_fleet(
    run_cli: RunCli,
    cli_env: dict[str, str],
    kafka_bootstrap: str,
    unique: str,
    tmp_path: Path,
    collector: CollectorNode,
) -> None:
    """A claim's trace spans coordinator, agents and gateway, continuing the event's parent."""
    topic = f"t{unique}.claims"
    (tmp_path / "workflow.yaml").write_text(WORKFLOW.format(topic=topic))
    file = tmp_path / "fleet.yaml"
    file.write_text(
        FLEET.format(
            name=f"t{unique}",
            root=REPO,
            bootstrap=kafka_bootstrap,
            prefix=f"t{unique}.",
            topic=topic,
            registry=free_port(),
            gateway=free_port(),
            opa=free_port(),
            coordinator=free_port(),
            workflow=tmp_path / "workflow.yaml",
        )
    )
    # Every fleet process inherits these: the standard variables, nothing Longboat-specific.
    cli_env["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.endpoint
    cli_env["OTEL_BSP_SCHEDULE_DELAY"] = "200"
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    up = run_cli("fleet", "up", "-f", str(file), "--detach", timeout=400)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        published = run_cli(
            "publish",
            topic,
            "--data",
            '{"claim_id": "c-7", "amount": 40, "policy": "P", "notes": "dented door"}',
            "--type",
            "claims.submitted",
            "--key",
            "c-7",
            "--traceparent",
            f"00-{trace_id}-{parent_id}-01",
        )
        assert published.returncode == 0, published.stderr
        paths = FleetPaths(Path(cli_env["LONGBOAT_DEV_HOME"]), load_fleet(file).name)
        state = read_state(paths)
        assert state is not None
        token = paths.operator_token.read_text().strip()
        done = assert_eventually_sync(
            lambda: _workflow(state.coordinator_url, token, "c-7"),
            lambda w: w is not None and w["status"] == "completed",
            timeout_s=120,
            what="the claim's workflow completed",
        )
        assert done is not None
        spans = assert_eventually_sync(
            lambda: [s for s in read_spans(collector.spans) if s["traceId"] == trace_id],
            _complete,
            timeout_s=60,
            what="the collector received the claim's spans",
        )
    finally:
        down = run_cli("fleet", "down", "-f", str(file), timeout=120)
    assert down.returncode == 0, down.stderr
    _check_trace(spans, parent_id)


def _check_trace(spans: list[Span], parent_id: str) -> None:
    by_id = {s["spanId"]: s for s in spans}
    services = {s["service"] for s in spans}
    assert {
        "longboat-coordinator",
        "longboat-agent-triage",
        "longboat-agent-payments",
        "longboat-gateway",
    } <= services

    # The first hop continues the published event's traceparent: nothing starts a new trace.
    roots = [s for s in spans if s.get("parentSpanId", "") not in by_id]
    assert {s.get("parentSpanId") for s in roots} == {parent_id}
    assert {s["name"] for s in roots} == {"invoke_agent coordinator-router"}

    # Each agent's run sits under the coordinator's dispatch of its task.
    for agent in ("triage", "payments"):
        run = _one(spans, f"longboat-agent-{agent}", f"invoke_agent {agent}")
        dispatch = by_id[run["parentSpanId"]]
        assert (dispatch["service"], dispatch["name"]) == (
            "longboat-coordinator",
            f"dispatch {agent}",
        )
        assert run["attributes"]["gen_ai.agent.name"] == agent

    # The LLM step: GenAI attributes, under the triage run. A fleet routes ctx.llm through the
    # gateway (docs/fleet.md): the gateway's decision on the model call sits under the step.
    triage_run = _one(spans, "longboat-agent-triage", "invoke_agent triage")
    chat = _one(spans, "longboat-agent-triage", "chat longboat-local")
    assert chat["parentSpanId"] == triage_run["spanId"]
    attrs = chat["attributes"]
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "longboat-local"
    assert attrs["gen_ai.provider.name"] == "longboat.gateway"
    model_decision = _one(spans, "longboat-gateway", "policy model.invoke")
    assert chat in _ancestors(model_decision, by_id)
    assert model_decision["attributes"]["longboat.decision.result"] == "allow"
    assert attrs["gen_ai.usage.input_tokens"] > 0
    assert attrs["gen_ai.usage.output_tokens"] > 0
    assert attrs["longboat.step.replayed"] is False

    # A memory step: the gateway's decision on the write sits under it.
    put = _one(spans, "longboat-agent-triage", "longboat.memory.put")
    assert put["attributes"]["longboat.memory.bank"] == "claims"
    write = _one(spans, "longboat-gateway", "policy memory.write")
    assert put in _ancestors(write, by_id)

    # The tool step: the gateway's decision (digest, action, resource, result) is under it.
    tool = _one(spans, "longboat-agent-payments", "execute_tool payments")
    assert tool["attributes"]["gen_ai.tool.name"] == "payments"
    decision = _one(spans, "longboat-gateway", "policy tool.invoke")
    assert tool in _ancestors(decision, by_id)
    assert decision["attributes"]["longboat.decision.result"] == "allow"
    assert decision["attributes"]["longboat.policy.action"] == "tool.invoke"
    assert decision["attributes"]["longboat.policy.resource.name"] == "payments"
    assert len(decision["attributes"]["longboat.policy.digest"]) >= 16
    assert (
        tool["attributes"]["longboat.decision_id"] == decision["attributes"]["longboat.decision.id"]
    )
    opa = [s for s in spans if s["name"] == "opa query" and s["service"] == "longboat-gateway"]
    assert opa, "the gateway's OPA queries are spans too"
