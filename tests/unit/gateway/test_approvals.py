"""Tool approvals without Kafka: the pinned id format, who may resolve what, and which record
wins, so every follower derives the same state from the same log."""

from __future__ import annotations

from datetime import timedelta

import pytest

from longboat import utc_now
from longboat.gateway import ApprovalTimeout, ErrorBody, ToolApproval, ToolRejected, approval_id
from longboat.gateway._approvals import _supersedes, resolution
from longboat.gateway._client import _refusal


def _approval(**changes: object) -> ToolApproval:
    now = utc_now()
    base = ToolApproval(
        id=approval_id("triage:fp-1"),
        key="triage:fp-1",
        agent="triage",
        version="1.0",
        tool="payments",
        arguments={"amount": 20000},
        reasons=["payments: amount 20000 is above 10000 and needs an operator's approval"],
        decision_id="d-1",
        requested_at=now,
        deadline=now + timedelta(hours=1),
    )
    return base.model_copy(update=changes)


def test_approval_id_format_is_pinned() -> None:
    """The id is derived from the key (never random): NEVER change it, operators hold ids."""
    assert approval_id("triage:fp-1") == "ap-2847b5889fa8dedd300e"
    assert approval_id("triage:fp-1") == approval_id("triage:fp-1")
    assert approval_id("other:fp-1") != approval_id("triage:fp-1")


def test_first_resolution_wins_and_requests_never_overwrite() -> None:
    """A resolution replaces pending; nothing replaces a resolution; a re-request changes none."""
    pending = _approval()
    approved = pending.model_copy(update={"state": "approved", "resolved_by": "a"})
    rejected = pending.model_copy(update={"state": "rejected", "resolved_by": "b"})
    assert _supersedes(pending, None)
    assert _supersedes(approved, pending)
    assert not _supersedes(rejected, approved)
    assert not _supersedes(pending, approved)
    assert not _supersedes(_approval(), pending)


def test_resolution_records_who_and_the_edit() -> None:
    """Approving with edited arguments keeps both sets; a rejection keeps no arguments."""
    approved = resolution(
        _approval(), verdict="approved", by="alice", note="ok", arguments={"amount": 1}, edited=True
    )
    assert (approved.state, approved.resolved_by, approved.note) == ("approved", "alice", "ok")
    assert approved.effective_arguments == {"amount": 1}
    assert approved.arguments == {"amount": 20000}
    rejected = resolution(
        _approval(), verdict="rejected", by="bob", note="no", arguments={"x": 1}, edited=True
    )
    assert (rejected.edited, rejected.edited_arguments) == (False, None)


def test_resolution_refused_when_closed_overdue_or_adding_pii() -> None:
    """Only a pending approval before its deadline resolves; an edit may not add PII kinds."""
    done = _approval(state="rejected")
    with pytest.raises(ValueError, match="already rejected"):
        resolution(done, verdict="approved", by="a", note=None, arguments=None, edited=False)
    overdue = _approval(deadline=utc_now() - timedelta(seconds=1))
    with pytest.raises(ValueError, match="expired at"):
        resolution(overdue, verdict="approved", by="a", note=None, arguments=None, edited=False)
    with pytest.raises(ValueError, match=r"personal data \(email\)"):
        resolution(
            _approval(),
            verdict="approved",
            by="a",
            note=None,
            arguments={"to": "eve@example.com"},
            edited=True,
        )
    kept = resolution(
        _approval(pii=["email"]),
        verdict="approved",
        by="a",
        note=None,
        arguments={"to": "eve@example.com"},
        edited=True,
    )
    assert kept.edited


def test_client_maps_resolved_refusals_to_terminal_errors() -> None:
    """tool_rejected and approval_timeout become their own terminal errors, with the message."""
    rejected = _refusal(403, ErrorBody(error="tool_rejected", message="alice rejected: dup"))
    assert isinstance(rejected, ToolRejected)
    assert "dup" in str(rejected)
    assert not rejected.retryable
    timeout = _refusal(409, ErrorBody(error="approval_timeout", message="nobody approved"))
    assert isinstance(timeout, ApprovalTimeout)
