"""The invariants of the fleet chaos run, the recovery time per fault kind, and the table.

Invariants (each a row; any violation makes the run exit 1):

- every claim's workflow ``WorkflowCompleted`` (the known end states are listed; none but
  completed is accepted: the chaos fleet retries the payout, so faults must not fail a claim);
- no task id (``<workflow>:<step>:<attempt>``, the coordinator's pinned ids) committed twice on
  ``lb.tasks.*``, no ``TaskDispatched`` twice for one task id, no ``TaskCompleted`` twice for one
  workflow step;
- one payout line per completed claim in the payout ledger file, one line per idempotency key,
  and one completed ``lb.tools.ledger`` entry for each of those keys;
- no ``allow`` from OPA on ``lb.decisions`` stamped inside the window OPA was stopped;
- every ``lb.memory`` revision has its ``lb.memory.audit`` record;
- the policy published mid-run decides afterwards (decisions carry its digest).

Recovery of a fault: seconds from the fault (for OPA: from SIGCONT; for the broker: from the
SIGKILL) until the fleet does new work of the kind the fault stopped — a killed agent's next
result on ``lb.results`` (the moderator's next verdict), the coordinator's next history entry,
and for everything else the next ``WorkflowCompleted``.
"""

from __future__ import annotations

import bisect
import json
import statistics
from collections import Counter
from dataclasses import dataclass, field

from longboat.gateway import DecisionRecord
from tests.chaos.chaos_faults import FaultLog, Injected
from tests.chaos.chaos_topics import Evidence

__all__ = ["Check", "Report", "evaluate", "render"]

# A decision's time is taken after OPA's answer is read; an answer read just before SIGSTOP can
# be stamped a moment later on a loaded machine, so the checked window starts this much later.
OPA_STAMP_GRACE_S = 0.5


@dataclass(frozen=True)
class Check:
    """One invariant: its name, whether it held, and what was seen."""

    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    """The run's verdict: faults, invariants and recovery times."""

    faults: dict[str, int] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    recovery: dict[str, list[float | None]] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)
    figures: dict[str, int] = field(default_factory=dict)
    idle: list[str] = field(default_factory=list)  # killed agents that had no work after

    @property
    def ok(self) -> bool:
        """Whether every invariant held."""
        return all(c.ok for c in self.checks)

    def to_json(self) -> dict[str, object]:
        """The report as plain data (``--json``)."""
        return {
            "ok": self.ok,
            "faults": self.faults,
            "states": self.states,
            "checks": [vars(c) for c in self.checks],
            "recovery": self.recovery,
            "figures": self.figures,
            "idle": self.idle,
        }


def evaluate(
    evidence: Evidence, log: FaultLog, claims: dict[str, float], *, given_up: list[str]
) -> Report:
    """Check every invariant on ``evidence`` for the published ``claims`` (id -> amount);
    ``given_up``: the fleet processes the supervisor marked failed."""
    report = Report(states=dict(Counter(evidence.final(c) for c in claims)))
    report.faults = dict(Counter(f.kind for f in log.injected))
    report.faults["kill (in pairs)"] = sum(f.pair for f in log.injected)
    completed = {c for c in claims if evidence.final(c) == "WorkflowCompleted"}
    report.checks = [
        _workflows(claims, completed, report.states, evidence),
        *_tasks(evidence),
        *_payouts(evidence, completed),
        _opa_window(evidence, log),
        _memory(evidence),
        _policy(evidence, log),
        Check("faults injected as planned", not log.problems, "; ".join(log.problems) or "yes"),
        Check(
            "the supervisor brought every process back",
            not given_up,
            f"given up: {', '.join(given_up)}" if given_up else "yes",
        ),
    ]
    for fault in log.injected:
        key = fault.kind if fault.kind != "kill" else f"kill {fault.component}"
        took = _recovery(evidence, fault)
        if took is None and fault.agent is not None and evidence.idle(fault.agent):
            # Killed with nothing left to do (the notifier only runs compensations): it can
            # show no new work, and owes none.
            report.idle.append(fault.target)
            continue
        report.recovery.setdefault(key, []).append(took)
    report.checks.append(_recovered(report))
    inside = _in_opa_window(evidence, log)
    report.figures = {
        "workflows": len(claims),
        "completed": len(completed),
        "kills": report.faults.get("kill", 0),
        "kills_in_pairs": report.faults["kill (in pairs)"],
        "task_ids": len(evidence.task_ids),
        "payouts": len(evidence.payouts),
        "memory_revisions": len(evidence.memory),
        "decisions": len(evidence.decisions),
        "opa_window_decisions": len(inside),
        "opa_window_fail_closed": sum(d.source == "fail_closed" for d in inside),
    }
    return report


def _workflows(
    claims: dict[str, float], completed: set[str], states: dict[str, int], evidence: Evidence
) -> Check:
    missing = sorted(set(claims) - completed)
    mix = ", ".join(f"{k} {v}" for k, v in sorted(states.items()))
    shown = "; ".join(f"{w} ({_why(evidence, w)})" for w in missing[:5])
    return Check(
        "every workflow completed",
        not missing,
        f"{mix}; not completed: {shown}" if missing else mix,
    )


def _why(evidence: Evidence, workflow: str) -> str:
    """The last failure the workflow's history records, or its last entry's type."""
    lines = evidence.history.get(workflow, [])
    failures = [h for h in lines if h.type.endswith("Failed")]
    if not failures:
        return lines[-1].type if lines else "no history"
    last = failures[-1]
    return f"{last.type}: {json.dumps(last.data, default=str)[:300]}"


def _tasks(evidence: Evidence) -> list[Check]:
    twice = sorted(t for t, n in evidence.task_ids.items() if n > 1)
    dispatched: Counter[str] = Counter()
    done: Counter[tuple[str, object]] = Counter()
    for workflow, lines in evidence.history.items():
        for h in lines:
            if h.type == "TaskDispatched":
                dispatched[str(h.data.get("task_id"))] += 1
            elif h.type == "TaskCompleted":
                done[(workflow, h.data.get("step"))] += 1
    redispatched = sorted(t for t, n in dispatched.items() if n > 1)
    completed_twice = sorted(f"{w}:{s}" for (w, s), n in done.items() if n > 1)
    return [
        Check(
            "no task id committed twice on lb.tasks.*",
            not twice,
            f"{len(evidence.task_ids)} task ids; twice: {twice[:5] or 'none'}",
        ),
        Check(
            "no task dispatched twice, no step completed twice",
            not redispatched and not completed_twice,
            f"{sum(dispatched.values())} dispatches; twice: {redispatched[:3] or 'none'}; "
            f"steps completed twice: {completed_twice[:3] or 'none'}",
        ),
    ]


def _payouts(evidence: Evidence, completed: set[str]) -> list[Check]:
    per_claim = Counter(str(p["claim"]) for p in evidence.payouts)
    per_key = Counter(str(p["idempotency_key"]) for p in evidence.payouts)
    unpaid = sorted(completed - set(per_claim))
    paid_twice = sorted(c for c, n in per_claim.items() if n > 1)
    keys_twice = sorted(k for k, n in per_key.items() if n > 1)
    not_in_ledger = sorted(k for k in per_key if evidence.ledger.get(k) != 1)
    return [
        Check(
            "one payout per completed claim",
            not unpaid and not paid_twice and not keys_twice,
            f"{len(evidence.payouts)} payouts for {len(completed)} completed; "
            f"unpaid {unpaid[:3] or 'none'}; paid twice {paid_twice[:3] or 'none'}",
        ),
        Check(
            "one lb.tools.ledger completion per payout key",
            not not_in_ledger,
            f"{len(per_key)} keys; missing or repeated: {not_in_ledger[:3] or 'none'}",
        ),
    ]


def _in_opa_window(evidence: Evidence, log: FaultLog) -> list[DecisionRecord]:
    """The decisions stamped while OPA was stopped (less the grace at the start)."""
    windows = [(f.started + OPA_STAMP_GRACE_S, f.ended) for f in log.injected if f.kind == "opa"]
    return [
        d for d in evidence.decisions if any(lo <= d.time.timestamp() <= hi for lo, hi in windows)
    ]


def _opa_window(evidence: Evidence, log: FaultLog) -> Check:
    inside = _in_opa_window(evidence, log)
    stopped = any(f.kind == "opa" for f in log.injected)
    allowed = [d for d in inside if d.decision.allow and d.source == "opa"]
    closed = sum(d.source == "fail_closed" for d in inside)
    return Check(
        "no request allowed while OPA was stopped",
        stopped and not allowed,
        f"{len(inside)} decisions in the window: {closed} fail-closed denials, "
        f"{len(allowed)} OPA allows",
    )


def _memory(evidence: Evidence) -> Check:
    unaudited = sorted(evidence.memory - evidence.audits)
    return Check(
        "every memory write has its audit record",
        not unaudited,
        f"{len(evidence.memory)} memory revisions; unaudited: {unaudited[:3] or 'none'}",
    )


def _policy(evidence: Evidence, log: FaultLog) -> Check:
    digests = {f.target for f in log.injected if f.kind == "policy"}
    used = sum(d.policy_digest in digests for d in evidence.decisions)
    return Check(
        "the policy published mid-run decides",
        bool(digests) and used > 0,
        f"{used} decisions under {', '.join(d[:19] for d in digests) or 'no publish'}",
    )


def _recovery(evidence: Evidence, fault: Injected) -> float | None:
    if fault.kind == "kill" and fault.agent is not None:
        times = sorted(evidence.results.get(fault.agent, []))
        since = fault.started
    elif fault.kind == "kill" and fault.component == "coordinator":
        times = sorted(h.at for lines in evidence.history.values() for h in lines)
        since = fault.started
    else:
        times = evidence.completions()
        since = fault.ended if fault.kind in ("opa", "policy") else fault.started
    i = bisect.bisect_right(times, since)
    return round(times[i] - since, 2) if i < len(times) else None


def _recovered(report: Report) -> Check:
    never = [k for k, values in report.recovery.items() if any(v is None for v in values)]
    return Check(
        "the fleet worked again after every fault",
        not never,
        f"no new work after: {', '.join(never)}" if never else "yes",
    )


def render(report: Report) -> str:
    """The table printed at the end of the run."""
    lines = ["", "faults injected"]
    lines += [f"  {kind:<28} {n}" for kind, n in sorted(report.faults.items())]
    lines += ["", "invariants"]
    for check in report.checks:
        lines.append(f"  {'PASS' if check.ok else 'FAIL'}  {check.name:<50} {check.detail}")
    lines += ["", "recovery (s: from the fault until new work of that kind)"]
    lines.append(f"  {'fault':<24} {'n':>3} {'median':>8} {'max':>8}")
    for kind, values in sorted(report.recovery.items()):
        seen = [v for v in values if v is not None]
        median = f"{statistics.median(seen):8.2f}" if seen else "       -"
        worst = f"{max(seen):8.2f}" if seen else "       -"
        lines.append(f"  {kind:<24} {len(values):>3} {median} {worst}")
    if report.idle:
        lines.append(
            f"  killed with no work left (no recovery to measure): {', '.join(report.idle)}"
        )
    lines.append("")
    lines.append("RESULT: " + ("all invariants held" if report.ok else "VIOLATIONS (exit 1)"))
    return "\n".join(lines)
