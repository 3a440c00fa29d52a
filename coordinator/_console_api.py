"""Mission Control's console answers beyond workflows: session, fleet and governance.

=========================================  ==================  ============================
route                                      request             answer
=========================================  ==================  ============================
``POST /login``                            :class:`Login`      :class:`SessionInfo` + cookie
``POST /logout``                           —                   :class:`SessionInfo`
``GET /v1/session``                        —                   :class:`SessionInfo`
``GET /v1/fleet``                          —                   :class:`FleetAnswer`
``GET /v1/decisions[?agent&action&...]``   —                   :class:`DecisionList`
``GET /v1/memory/{bank}/audit``            —                   :class:`MemoryAuditList`
``GET /v1/dead-letters[?agent=]``          —                   :class:`DeadLetterList`
``POST /v1/dead-letters/{agent}/replay``   :class:`Replay`     :class:`DeadLetterList`
``GET /v1/stream``                         —                   server-sent events
=========================================  ==================  ============================
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from longboat.coordinator._console_auth import Role
from longboat.gateway import DecisionRecord, MemoryAudit
from longboat.registry import InstanceCounters

__all__ = [
    "AgentRow",
    "DeadLetterList",
    "DeadLetterRow",
    "DecisionList",
    "FleetAnswer",
    "InstanceRow",
    "Login",
    "MemoryAuditList",
    "Replay",
    "SessionInfo",
    "VersionRow",
]


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Login(_Answer):
    """What the console's login form sends."""

    token: str = Field(min_length=1, max_length=4096)
    name: str = Field(default="operator", min_length=1, max_length=200)


class SessionInfo(_Answer):
    """Who the console is logged in as; ``csrf`` goes back in ``X-CSRF-Token``."""

    name: str | None
    role: Role | None
    csrf: str | None = None


class InstanceRow(_Answer):
    """One running process of an agent version, as its heartbeats show it."""

    instance: str
    last_heartbeat: datetime
    stale: bool = Field(description="no heartbeat within the stale window")
    counters: InstanceCounters | None = Field(
        default=None, description="totals since the process started, from its heartbeats"
    )
    records_per_s: float | None = None


class VersionRow(_Answer):
    """One enrolled version of an agent."""

    version: str
    status: str
    code_digest: str | None
    instances: list[InstanceRow]
    records_per_s: float | None = Field(
        default=None, description="sum over live instances; None: none reports a rate"
    )
    errors: int = Field(default=0, description="failed step attempts, summed over instances")
    dead_lettered: int = Field(default=0, description="records dead-lettered, summed")


class AgentRow(_Answer):
    """One agent: its versions, consumer lag and dead letters."""

    agent_id: str
    owner: str
    risk_tier: str
    versions: list[VersionRow]
    lag: int | None = Field(description="records its group has not committed; None: unknown")
    dead_letters: int
    updated_at: datetime


class FleetAnswer(_Answer):
    """Every agent the registry holds."""

    agents: list[AgentRow]
    stale_after_s: float


class DecisionList(_Answer):
    """Recent gateway decisions (newest first) matching the filters."""

    decisions: list[DecisionRecord]


class MemoryAuditList(_Answer):
    """The audit trail of one memory bank (newest first)."""

    bank: str
    changes: list[MemoryAudit]


class DeadLetterRow(_Answer):
    """One dead letter: where it came from, why, and whether it was replayed."""

    agent: str
    id: str
    time: datetime
    topic: str
    partition: int
    offset: int
    error_type: str
    reason: str
    replayed: bool
    details: dict[str, JsonValue] = {}


class DeadLetterList(_Answer):
    """Dead letters (of one agent or of every agent)."""

    dead_letters: list[DeadLetterRow]


class Replay(_Answer):
    """Which dead letters of an agent to put back (``None``: every one not replayed yet)."""

    ids: list[str] | None = None
