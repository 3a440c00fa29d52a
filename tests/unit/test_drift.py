"""The memory drift report (longboat memory drift) as a pure function (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from longboat.cli._drift import drift_report
from longboat.gateway import MemoryAudit
from longboat.gateway._memory import Provenance

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def _audit(key: str, revision: int, minute: int, *, workflow: str | None = None) -> MemoryAudit:
    who = Provenance(
        agent="triage",
        version="2.0",
        workflow_id=workflow,
        decision_id="d",
        policy_digest="sha256:x",
    )
    return MemoryAudit(
        op="put",
        bank="claims",
        key=key,
        value="v",
        revision=revision,
        time=T0 + timedelta(minutes=minute),
        provenance=who,
    )


def test_counts_by_writer_and_policy_within_the_window() -> None:
    """Only changes since the start of the window count; adds and updates are told apart."""
    audits = [_audit("a", 1, 0), _audit("a", 2, 10), _audit("b", 1, 11)]
    report = drift_report("claims", audits, since=T0 + timedelta(minutes=5), flag_at=10)
    assert (report.changes, report.added, report.updated, report.deleted) == (2, 1, 1, 0)
    assert report.by_writer == {"triage@2.0": 2}
    assert report.by_policy == {"sha256:x": 2}
    assert report.flags == []


def test_a_workflow_rewriting_many_memories_is_flagged() -> None:
    """One workflow updating flag_at distinct existing keys is flagged; others are not."""
    audits = [_audit(f"k{i}", 1, i) for i in range(5)]
    audits += [_audit(f"k{i}", 2, 10 + i, workflow="wf-bad") for i in range(3)]
    audits += [_audit("k4", 2, 20, workflow="wf-ok")]
    report = drift_report("claims", audits, since=None, flag_at=3)
    assert [(f.source, f.changes) for f in report.flags] == [("workflow wf-bad", 3)]
