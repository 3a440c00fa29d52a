"""What the registry records about an agent (the value of ``lb.registry``, keyed by agent id)."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from longboat import RecordCodec, validate_agent_name

__all__ = [
    "AGENT_RECORDS",
    "CODE_DIGEST_PATTERN",
    "INSTANCE_PATTERN",
    "MAX_INSTANCES_PER_VERSION",
    "AgentKey",
    "AgentRecord",
    "Capability",
    "CapabilityKind",
    "InstanceCounters",
    "InstanceInfo",
    "RiskTier",
    "Status",
    "VersionEntry",
    "check_public_key",
    "key_id",
]

Status = Literal["active", "canary", "draining", "revoked"]
RiskTier = Literal["low", "medium", "high"]
# The kinds a fleet file may declare (fleet/_model.py CAPABILITY_KINDS); policies read them.
CapabilityKind = Literal["tool", "memory", "profile", "topic", "model", "policy"]
_KINDS: tuple[str, ...] = get_args(CapabilityKind)

# Agents write these fields themselves (heartbeats): the registry bounds them when it writes
# them, so that no agent can grow its record, which also carries its status and so its
# revocation. Reading stays lenient: a record written before these bounds must still load
# (and be revocable), not vanish from the view.
CODE_DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"
"""What ``code_digest`` must look like (what ``longboat.agents`` reports)."""
INSTANCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,252}$"
"""An instance name: a host or pod name (DNS length), no spaces or control characters."""
MAX_INSTANCES_PER_VERSION = 32
"""Instances remembered per version; a heartbeat from a new one evicts the stalest."""


def check_public_key(value: str) -> str:
    """``value`` if it is a base64 raw 32-byte Ed25519 public key, else ValueError saying so."""
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError as e:
        raise ValueError("public_key must be a base64 raw 32-byte Ed25519 key") from e
    if len(raw) != 32:
        raise ValueError(
            f"public_key must be a raw 32-byte Ed25519 key (base64), not {len(raw)} bytes"
        )
    return value


def key_id(public_key_b64: str) -> str:
    """The id of a public key: the first 16 hex characters of its SHA-256."""
    return hashlib.sha256(base64.b64decode(public_key_b64)).hexdigest()[:16]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Capability(_Frozen):
    """Something an agent may use: a tool, a memory bank, a profile, a topic, a model, a policy."""

    kind: CapabilityKind
    name: str = Field(min_length=1, max_length=200)

    @classmethod
    def parse(cls, text: str) -> Capability:
        """``KIND:NAME``, e.g. ``tool:payments`` or ``memory:claims``.

        Raises:
            ValueError: Not of that form (the message shows it).
        """
        kind, _, name = text.partition(":")
        if kind not in _KINDS or not name:
            raise ValueError(
                f"capability {text!r} must be KIND:NAME with KIND one of {', '.join(_KINDS)}"
            )
        return cls(kind=kind, name=name)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


class AgentKey(_Frozen):
    """One Ed25519 public key of one agent version."""

    kid: str
    public_key: str = Field(description="raw 32-byte Ed25519 public key, base64")
    created_at: datetime
    valid_until: datetime | None = Field(default=None, description="set when rotated out")

    @field_validator("public_key")
    @classmethod
    def _ed25519(cls, value: str) -> str:
        return check_public_key(value)


_COUNTER_MAX = 2**63 - 1  # a Kafka-sized counter; bounds what an agent can write


class InstanceCounters(_Frozen):
    """Totals an instance reports with each heartbeat, counted since that process started."""

    processed: int = Field(default=0, ge=0, le=_COUNTER_MAX, description="records finished")
    errors: int = Field(default=0, ge=0, le=_COUNTER_MAX, description="step attempts that raised")
    dead_lettered: int = Field(
        default=0, ge=0, le=_COUNTER_MAX, description="records sent to the dead-letter topic"
    )


class InstanceInfo(_Frozen):
    """A running process of an agent version."""

    instance: str
    code_digest: str | None = None
    started_at: datetime
    last_heartbeat: datetime
    counters: InstanceCounters | None = None
    records_per_s: float | None = Field(
        default=None, description="records finished per second between its last two heartbeats"
    )


class VersionEntry(_Frozen):
    """One enrolled version of an agent."""

    version: str
    status: Status = "active"
    keys: tuple[AgentKey, ...]
    capabilities: tuple[Capability, ...] = ()
    code_digest: str | None = None
    prompt_version: str | None = None
    enrolled_at: datetime
    instances: dict[str, InstanceInfo] = Field(default_factory=dict)

    def key(self, kid: str) -> AgentKey | None:
        """The key with id ``kid``, if this version has it."""
        return next((k for k in self.keys if k.kid == kid), None)


class AgentRecord(_Frozen):
    """Everything the registry knows about one agent."""

    agent_id: str
    owner: str = "unknown"
    risk_tier: RiskTier = "medium"
    versions: dict[str, VersionEntry]
    updated_at: datetime
    revision: int = Field(default=1, ge=1)

    @field_validator("agent_id")
    @classmethod
    def _name(cls, value: str) -> str:
        return validate_agent_name(value)


AGENT_RECORDS: RecordCodec[AgentRecord] = RecordCodec(AgentRecord)
"""The one serde of ``lb.registry`` values, for its writer (the registry) and every reader."""
