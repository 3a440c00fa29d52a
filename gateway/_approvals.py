"""Tool calls parked for a person (``lb.tools.approvals``): the record, its book, resolutions.

A policy that answers ``require_approval`` for a tool call (``PolicyDecision.approval``) makes
the gateway record a :class:`ToolApproval` here, ``pending``, keyed by the call's agent-scoped
idempotency key, instead of calling the tool. An operator resolves it (Mission Control, or
``longboat tools approve-call|reject-call``): the resolution is a full copy of the record with
its new state, written under the same key. The agent's next request with the same key finds
it: an approved call runs once through the tool ledger, a rejected or expired one fails.

Invariants (why replicas and replays agree):

- One record per key; the first *resolution* in the topic's order wins. A later pending
  record (a duplicate request from another replica) or a later resolution never replaces a
  resolved one, so every follower derives the same state from the same log.
- A resolution is written only for a pending approval before its deadline; ``expired`` only
  after it. An approval recorded at the deadline's edge may meet an expiry written by a gateway
  that had not seen it yet: the first in the topic still wins everywhere.
- Arguments are stored only after the PII classifier and the policy saw them (a refused call
  is never parked); edited arguments may not bring personal data kinds the request did not
  hold (refused before they are written).
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from longboat import KafkaSettings, RecordCodec, TopicNames, utc_now
from longboat.errors import TerminalError
from longboat.gateway._following import FollowingWriter
from longboat.gateway._pii import classify
from longboat.kafka import Decoded, Producer, TopicFollower, read_decoded

__all__ = [
    "APPROVAL_RECORDS",
    "ApprovalAnswer",
    "ApprovalBook",
    "ApprovalState",
    "ApprovalTimeout",
    "ToolApproval",
    "ToolRejected",
    "approval_id",
    "deadline_after",
    "read_approvals",
    "resolution",
]

ApprovalState = Literal["pending", "approved", "rejected", "expired"]


class ToolRejected(TerminalError):
    """An operator rejected the tool call; the note says why."""

    code = "tool_rejected"


class ApprovalTimeout(TerminalError):
    """Nobody approved the tool call before its deadline."""

    code = "approval_timeout"


class ToolApproval(BaseModel):
    """One parked tool call and, once resolved, who resolved it and how."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="approval_id(key): what operators and the CLI name")
    key: str = Field(description="the agent-scoped idempotency key of the call")
    agent: str
    version: str
    tool: str
    arguments: JsonValue = None
    pii: list[str] = Field(default_factory=list, description="PII kinds in the arguments")
    reasons: list[str] = Field(description="why the policy asks for a person")
    decision_id: str
    policy_digest: str | None = None
    workflow_id: str | None = None
    run_id: str | None = None
    requested_at: datetime
    deadline: datetime
    state: ApprovalState = "pending"
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    note: str | None = None
    edited: bool = False
    edited_arguments: JsonValue = None

    @property
    def effective_arguments(self) -> JsonValue:
        """The arguments an approved call runs with: the approver's edit, else the agent's."""
        return self.edited_arguments if self.edited else self.arguments

    def overdue(self, now: datetime) -> bool:
        """Pending past its deadline (an expiry is due)."""
        return self.state == "pending" and now >= self.deadline


class ApprovalAnswer(BaseModel):
    """What an agent is told about its parked call: ``202`` of an invoke, and the long-poll.

    ``GET /v1/tools/approvals/{id}?wait_s=N`` answers when the state changes or after ``N``
    seconds (at most 25), whichever is first; the agent then asks again or, once resolved,
    repeats its invoke with the same key.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    approval_id: str
    tool: str
    state: ApprovalState
    reasons: list[str]
    deadline: datetime
    note: str | None = None

    @classmethod
    def of(cls, approval: ToolApproval) -> ApprovalAnswer:
        """The agent's view of ``approval`` (no arguments, no approver)."""
        return cls(
            approval_id=approval.id,
            tool=approval.tool,
            state=approval.state,
            reasons=approval.reasons,
            deadline=approval.deadline,
            note=approval.note,
        )


APPROVAL_RECORDS: RecordCodec[ToolApproval] = RecordCodec(ToolApproval)
"""The serde of ``lb.tools.approvals`` values (key: the agent-scoped idempotency key)."""


def approval_id(key: str) -> str:
    """``ap-`` + 20 hex digits of SHA-256 of the agent-scoped key. NEVER CHANGE the format.

    Derived, not random: two replicas parking the same call name the same approval, and an
    agent restarted mid-wait finds it again.
    """
    return "ap-" + hashlib.sha256(key.encode()).hexdigest()[:20]


def _supersedes(new: ToolApproval, known: ToolApproval | None) -> bool:
    """Whether ``new`` replaces ``known`` (first resolution wins; requests never overwrite)."""
    if known is None:
        return True
    return known.state == "pending" and new.state != "pending"


class ApprovalBook(FollowingWriter):
    """Every approval by key, following ``lb.tools.approvals``; wakes long-polls on changes."""

    def __init__(self, kafka: KafkaSettings, names: TopicNames) -> None:
        """Create the book; ``async with`` loads it and keeps following it."""
        self._topic = names.tools_approvals
        self._entries: dict[str, ToolApproval] = {}
        self._keys: dict[str, str] = {}
        self._changed = asyncio.Event()
        self.revision = 0
        self._producer = Producer(kafka, linger_ms=0)
        self._follower = TopicFollower(kafka, self._topic, APPROVAL_RECORDS, self._apply)

    def _apply(self, record: Decoded[ToolApproval]) -> None:
        if record.value is None:
            gone = self._entries.pop(record.key, None)
            if gone is not None:
                self._keys.pop(gone.id, None)
                self._touch()
            return
        self._adopt(record.value)

    def _adopt(self, approval: ToolApproval) -> bool:
        if not _supersedes(approval, self._entries.get(approval.key)):
            return False
        self._entries[approval.key] = approval
        self._keys[approval.id] = approval.key
        self._touch()
        return True

    def _touch(self) -> None:
        self.revision += 1
        self._changed.set()
        self._changed = asyncio.Event()  # waiters hold the old one, which is set

    def of_key(self, key: str) -> ToolApproval | None:
        """The approval of the call with agent-scoped key ``key``."""
        return self._entries.get(key)

    def get(self, approval: str) -> ToolApproval | None:
        """The approval with id ``approval``."""
        key = self._keys.get(approval)
        return None if key is None else self._entries.get(key)

    def all(self) -> list[ToolApproval]:
        """Every approval, oldest request first."""
        return sorted(self._entries.values(), key=lambda a: a.requested_at)

    async def request(self, approval: ToolApproval) -> ToolApproval:
        """Park ``approval`` unless its key is known; returns what the key holds now."""
        known = self._entries.get(approval.key)
        if known is not None:
            return known  # the same call asked again: the same approval, no second request
        await self._write(approval)
        return approval

    async def expire(self, approval: ToolApproval) -> ToolApproval:
        """Record that ``approval`` (pending, overdue) expired; returns the key's state."""
        expired = approval.model_copy(
            update={"state": "expired", "resolved_by": "gateway", "resolved_at": utc_now()}
        )
        await self._write(expired)
        return self._entries[approval.key]

    async def resolve(
        self,
        approval: str,
        *,
        verdict: Literal["approved", "rejected"],
        by: str,
        note: str | None = None,
        arguments: JsonValue = None,
        edited: bool = False,
    ) -> ToolApproval:
        """Approve or reject the pending approval with id ``approval``.

        Raises:
            LookupError: No such approval.
            ValueError: Not pending any more, past its deadline, or the edited arguments hold
                personal data the request did not (the message says which).
        """
        known = self.get(approval)
        if known is None:
            raise LookupError(f"no tool approval {approval!r} (see `longboat tools approvals`)")
        resolved = resolution(
            known, verdict=verdict, by=by, note=note, arguments=arguments, edited=edited
        )
        await self._write(resolved)
        return self._entries[known.key]

    async def _write(self, approval: ToolApproval) -> None:
        key = approval.key.encode()
        await self._producer.send(self._topic, APPROVAL_RECORDS.encode(approval), key=key)
        self._adopt(approval)  # the follower brings it too; adopting now serves this replica

    async def changed(self, timeout_s: float) -> None:
        """Return when any approval changes, or after ``timeout_s``."""
        event = self._changed
        try:
            await asyncio.wait_for(event.wait(), timeout=max(timeout_s, 0))
        except TimeoutError:
            return


def resolution(
    known: ToolApproval,
    *,
    verdict: Literal["approved", "rejected"],
    by: str,
    note: str | None,
    arguments: JsonValue,
    edited: bool,
) -> ToolApproval:
    """``known`` resolved by ``by``, after checking that it may be.

    Raises:
        ValueError: Not pending, overdue, or edited arguments bring new personal data kinds.
    """
    now = utc_now()
    if known.state != "pending":
        raise ValueError(f"tool approval {known.id} is already {known.state}")
    if known.overdue(now):
        raise ValueError(f"tool approval {known.id} expired at {known.deadline.isoformat()}")
    if edited and verdict == "approved":
        added = sorted(set(classify(arguments)) - set(known.pii))
        if added:
            raise ValueError(
                f"tool approval {known.id}: the edited arguments hold personal data "
                f"({', '.join(added)}) the requested ones did not; not stored"
            )
    return known.model_copy(
        update={
            "state": verdict,
            "resolved_by": by,
            "resolved_at": now,
            "note": note,
            "edited": edited and verdict == "approved",
            "edited_arguments": arguments if edited and verdict == "approved" else None,
        }
    )


def deadline_after(seconds: int) -> datetime:
    """The deadline of an approval requested now."""
    return utc_now() + timedelta(seconds=seconds)


async def read_approvals(kafka: KafkaSettings, names: TopicNames) -> list[ToolApproval]:
    """Every approval (the state each key settled on), oldest request first."""
    latest: dict[str, ToolApproval] = {}
    async for record in read_decoded(kafka, names.tools_approvals, APPROVAL_RECORDS):
        if record.value is None:
            latest.pop(record.key, None)
        elif _supersedes(record.value, latest.get(record.key)):
            latest[record.key] = record.value
    return sorted(latest.values(), key=lambda a: a.requested_at)
