"""The registry's HTTP contract: request and answer bodies, used by the service and the client.

Every agent answer is the :class:`~longboat.registry.AgentRecord` itself (the same model as the
``lb.registry`` value); every error answer is the kernel's :class:`~longboat.ErrorBody`.

=======================================  ========================  ==========================
route                                    request body              answer
=======================================  ========================  ==========================
``GET /v1/agents``                       —                         :class:`AgentList`
``GET /v1/agents/{id}``                  —                         ``AgentRecord``
``POST /v1/agents``                      :class:`EnrollRequest`     ``AgentRecord`` (201)
``POST /v1/agents/{id}/status``          :class:`StatusRequest`     ``AgentRecord``
``POST /v1/agents/{id}/revoke``          :class:`StatusRequest`     ``AgentRecord``
``POST /v1/agents/{id}/heartbeat``       :class:`HeartbeatRequest`  ``AgentRecord``
=======================================  ========================  ==========================
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from longboat.registry._model import (
    CODE_DIGEST_PATTERN,
    AgentRecord,
    InstanceCounters,
    RiskTier,
    Status,
    check_public_key,
)

__all__ = ["AgentList", "EnrollRequest", "HeartbeatRequest", "StatusRequest"]


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EnrollRequest(_Body):
    """Body of ``POST /v1/agents``: enrol an agent version (or rotate its key)."""

    agent_id: str
    version: str = Field(min_length=1, max_length=100)
    public_key: str
    capabilities: list[str] = []
    owner: str | None = None
    risk_tier: RiskTier | None = None
    prompt_version: str | None = None

    @field_validator("public_key")
    @classmethod
    def _key(cls, value: str) -> str:
        return check_public_key(value)


class StatusRequest(_Body):
    """Body of ``POST /v1/agents/{id}/status`` (and ``/revoke`` without ``status``)."""

    status: Status = "revoked"
    version: str | None = None


class HeartbeatRequest(_Body):
    """Body of ``POST /v1/agents/{id}/heartbeat``: an agent writes this, so it is bounded."""

    code_digest: str | None = Field(default=None, pattern=CODE_DIGEST_PATTERN)
    counters: InstanceCounters | None = None


class AgentList(_Body):
    """Answer of ``GET /v1/agents``: every enrolled agent, by id."""

    agents: list[AgentRecord]
