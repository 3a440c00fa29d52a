"""The fleet chaos run's schedule and its invariant checker, without Kafka: the checker must see
each violation it exists to catch, or ``make chaos`` could pass on a broken fleet."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from longboat.devinfra import DevPorts
from longboat.fleet import FleetPaths
from longboat.gateway import DecisionRecord
from tests.chaos.chaos_faults import FaultLog, Injected, Injector, plan_faults
from tests.chaos.chaos_report import Report, evaluate, render
from tests.chaos.chaos_topics import Evidence, HistoryLine

T0 = 1_800_000_000.0  # epoch seconds of the fake run


def _decision(at: float, *, allow: bool, source: str) -> DecisionRecord:
    return DecisionRecord.model_validate(
        {
            "decision_id": f"d{at}",
            "time": datetime.fromtimestamp(at, UTC).isoformat(),
            "gateway": "gateway-0",
            "policy_digest": "sha256:new",
            "input": {
                "agent": {
                    "id": "payments",
                    "version": "1.0",
                    "status": "active",
                    "capabilities": [],
                    "risk_tier": "high",
                    "owner": "claims-team",
                },
                "action": "tool.invoke",
                "resource": {"kind": "tool", "name": "payments"},
                "context": {},
            },
            "decision": {"allow": allow},
            "duration_ms": 1.0,
            "source": source,
        }
    )


def _healthy() -> tuple[Evidence, FaultLog, dict[str, float]]:
    """One claim that went through every step once, under one fault of each kind."""
    evidence = Evidence()
    steps = [
        ("triage", "triage"),
        ("fraud", "fraud"),
        ("coverage", "coverage"),
        ("pay", "payments"),
    ]
    lines = [HistoryLine("WorkflowStarted", {}, T0 + 1)]
    for i, (step, agent) in enumerate(steps):
        tid = f"c1:{step}:1"
        evidence.task_ids[tid] = 1
        evidence.inputs[agent] += 1
        evidence.results[agent].append(T0 + 20 + i)
        lines.append(HistoryLine("TaskDispatched", {"step": step, "task_id": tid}, T0 + 2 + i))
        lines.append(HistoryLine("TaskCompleted", {"step": step, "task_id": tid}, T0 + 20 + i))
    lines.append(HistoryLine("WorkflowCompleted", {}, T0 + 30))
    evidence.history["c1"] = lines
    evidence.payouts = [{"claim": "c1", "idempotency_key": "k1", "amount": 10.0}]
    evidence.ledger["k1"] = 1
    evidence.memory = {("claims", "c1", 1)}
    evidence.audits = {("claims", "c1", 1)}
    evidence.decisions = [
        _decision(T0 + 5, allow=False, source="fail_closed"),
        _decision(T0 + 15, allow=True, source="opa"),
    ]
    log = FaultLog(
        injected=[
            Injected("kill", "fraud-0", "agent", T0 + 3, T0 + 3, agent="fraud"),
            Injected("kill", "coordinator-0", "coordinator", T0 + 3, T0 + 3, pair=True),
            Injected("opa", "opa-0", "opa", T0 + 4, T0 + 14),
            Injected("broker", "kafka", "kafka", T0 + 16, T0 + 18),
            Injected("policy", "sha256:new", "policy", T0 + 10, T0 + 12),
        ]
    )
    return evidence, log, {"c1": 10.0}


def _failed(report: Report) -> set[str]:
    return {c.name for c in report.checks if not c.ok}


def test_a_clean_run_passes_every_invariant_and_measures_recovery() -> None:
    """A run where everything happened once passes, with a recovery time per fault kind."""
    evidence, log, claims = _healthy()
    report = evaluate(evidence, log, claims, given_up=[])
    assert report.ok, render(report)
    assert report.recovery["kill agent"] == [pytest.approx(18.0)]  # fraud's result at T0 + 21
    assert report.recovery["opa"] == [pytest.approx(16.0)]  # from SIGCONT to the completion
    assert report.figures["opa_window_fail_closed"] == 1
    assert "RESULT: all invariants held" in render(report)


@pytest.mark.parametrize(
    ("breakage", "invariant"),
    [
        ("task_twice", "no task id committed twice on lb.tasks.*"),
        ("dispatched_twice", "no task dispatched twice, no step completed twice"),
        ("paid_twice", "one payout per completed claim"),
        ("ledger_missing", "one lb.tools.ledger completion per payout key"),
        ("allowed_while_stopped", "no request allowed while OPA was stopped"),
        ("unaudited", "every memory write has its audit record"),
        # No completion at all: nothing recovered either.
        ("unfinished", "every workflow completed+the fleet worked again after every fault"),
        ("never_recovered", "the fleet worked again after every fault"),
    ],
)
def test_each_violation_is_caught(breakage: str, invariant: str) -> None:
    """Each kind of broken evidence fails exactly the invariant that guards it."""
    evidence, log, claims = _healthy()
    if breakage == "task_twice":
        evidence.task_ids["c1:pay:1"] = 2
    elif breakage == "dispatched_twice":
        evidence.history["c1"].insert(
            2, HistoryLine("TaskDispatched", {"task_id": "c1:fraud:1"}, 0)
        )
    elif breakage == "paid_twice":
        evidence.payouts.append({"claim": "c1", "idempotency_key": "k2", "amount": 10.0})
        evidence.ledger["k2"] = 1
    elif breakage == "ledger_missing":
        del evidence.ledger["k1"]
    elif breakage == "allowed_while_stopped":
        evidence.decisions.append(_decision(T0 + 9, allow=True, source="opa"))
    elif breakage == "unaudited":
        evidence.memory.add(("claims", "c1", 2))
    elif breakage == "unfinished":
        evidence.history["c1"] = evidence.history["c1"][:-1]
    else:
        evidence.results["fraud"] = [T0 + 1]  # fraud never answered again after its kill
        evidence.inputs["fraud"] = 2  # ... while it had a task left
    report = evaluate(evidence, log, claims, given_up=[])
    assert _failed(report) == set(invariant.split("+")), render(report)
    assert "VIOLATIONS" in render(report)


def test_an_idle_killed_agent_owes_no_recovery_but_a_given_up_process_fails() -> None:
    """A killed agent with nothing left to do is idle; a process the supervisor gave up fails."""
    evidence, log, claims = _healthy()
    log.injected.append(Injected("kill", "notifier-0", "agent", T0 + 25, T0 + 25, "notifier"))
    report = evaluate(evidence, log, claims, given_up=["gateway-0"])
    assert report.idle == ["notifier-0"]
    assert _failed(report) == {"the supervisor brought every process back"}


def test_the_schedule_has_the_kills_pairs_and_one_of_each_fault() -> None:
    """The seeded plan holds K kills (some in pairs) and one OPA stop, broker restart, publish."""
    plan = plan_faults(seed=3, kills=20, span_s=200, opa_stop_s=10)
    kills = [f for f in plan if f.kind == "kill"]
    assert sum(f.width for f in kills) == 20
    assert any(f.width == 2 for f in kills)
    assert sorted(f.kind for f in plan if f.kind != "kill") == ["broker", "opa", "policy"]
    assert all(0 <= f.at_s <= 200 for f in plan)
    assert plan == plan_faults(seed=3, kills=20, span_s=200, opa_stop_s=10)


def test_the_first_kills_cover_every_kind_of_process(tmp_path: Path) -> None:
    """Four kills hit an agent, the coordinator, the gateway and the registry, in some order."""
    injector = Injector(
        home=tmp_path,
        paths=FleetPaths(tmp_path, "claims"),
        ports=DevPorts(kafka=1, controller=2, opa=3),
        policies=tmp_path,
        seed=5,
        opa_stop_s=10,
    )
    agents = [(f"a{i}-0", "agent", 100 + i, f"a{i}") for i in range(6)]
    targets = [*agents, ("coordinator-0", "coordinator", 7, None)]
    targets += [("gateway-0", "gateway", 8, None), ("registry-0", "registry", 9, None)]
    kinds = []
    for width in (2, 1, 1):
        for instance, component, _, agent in injector.choose_targets(targets, width):
            kinds.append(component)
            injector.log.injected.append(Injected("kill", instance, component, T0, T0, agent))
    assert sorted(kinds) == ["agent", "coordinator", "gateway", "registry"]
