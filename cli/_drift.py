"""The drift report of ``longboat memory drift``: what changed in a bank, by whom, and what is
unusual. A pure function of the bank's audit records, so it is tested without Kafka."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from longboat.gateway import MemoryAudit

__all__ = ["DriftReport", "drift_report"]


class DriftFlag(BaseModel):
    """One atypical source of changes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    changes: int
    reason: str


class DriftReport(BaseModel):
    """Changes to one bank over a window."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bank: str
    since: datetime | None
    changes: int
    added: int
    updated: int
    deleted: int
    by_writer: dict[str, int]
    by_policy: dict[str, int]
    flags: list[DriftFlag]


def drift_report(
    bank: str, audits: list[MemoryAudit], *, since: datetime | None, flag_at: int
) -> DriftReport:
    """Summarise ``audits`` (one bank's, oldest first) from ``since`` on.

    A workflow (or, outside workflows, an agent version) that rewrote or deleted ``flag_at``
    or more distinct existing memories in the window is flagged: one source rewriting much of
    a bank is how a poisoned input or a bad release shows up.
    """
    window = [a for a in audits if since is None or a.time >= since]
    added = sum(1 for a in window if a.op == "put" and a.revision == 1)
    deleted = sum(1 for a in window if a.op == "delete")
    writers = Counter(f"{a.provenance.agent}@{a.provenance.version}" for a in window)
    policies = Counter(a.provenance.policy_digest or "unknown" for a in window)
    rewritten: dict[str, set[str]] = defaultdict(set)
    for audit in window:
        if audit.op == "delete" or audit.revision > 1:
            who = audit.provenance
            source = (
                f"workflow {who.workflow_id}"
                if who.workflow_id
                else f"agent {who.agent}@{who.version}"
            )
            rewritten[source].add(audit.key)
    flags = [
        DriftFlag(
            source=source,
            changes=len(keys),
            reason=f"rewrote or deleted {len(keys)} existing memories (flag at {flag_at})",
        )
        for source, keys in sorted(rewritten.items())
        if len(keys) >= flag_at
    ]
    return DriftReport(
        bank=bank,
        since=since,
        changes=len(window),
        added=added,
        updated=len(window) - added - deleted,
        deleted=deleted,
        by_writer=dict(writers.most_common()),
        by_policy=dict(policies.most_common()),
        flags=flags,
    )
