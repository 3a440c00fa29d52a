"""Per-request checks before the policy: identity (registry token) and rate limits."""

from __future__ import annotations

import time
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel

from longboat.gateway._decision import AgentFacts, Resource
from longboat.gateway._protocol import error_answer
from longboat.registry import IdentityRefused, RegistryView, TokenVerifier, VerifiedIdentity

__all__ = ["Guard", "RateLimiter", "declares"]

_M = TypeVar("_M", bound=BaseModel)


class RateLimiter:
    """A token bucket per agent: ``per_minute`` requests, bursts up to the same number."""

    def __init__(self, per_minute: int) -> None:
        """Create the limiter."""
        self._rate = per_minute / 60
        self._capacity = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, agent: str, now: float | None = None) -> bool:
        """Take one token from ``agent``'s bucket if there is one."""
        moment = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(agent, (self._capacity, moment))
        tokens = min(self._capacity, tokens + (moment - last) * self._rate)
        if tokens < 1:
            self._buckets[agent] = (tokens, moment)
            return False
        self._buckets[agent] = (tokens - 1, moment)
        return True


class Guard:
    """Authenticates requests against the live registry view."""

    def __init__(self, view: RegistryView, limiter: RateLimiter) -> None:
        """Create the guard."""
        self._view = view
        self._verifier = TokenVerifier(view)
        self._limiter = limiter

    def identify(self, request: web.Request) -> tuple[VerifiedIdentity, AgentFacts] | web.Response:
        """The caller and its registry facts, or the 401/429 response to send."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return error_answer(401, "unauthenticated", "send Authorization: Bearer <agent token>")
        try:
            identity = self._verifier.verify(header.removeprefix("Bearer "))
        except IdentityRefused as e:
            return error_answer(401, f"identity_{e.reason}", str(e))
        if not self._limiter.allow(identity.agent_id):
            limited = error_answer(429, "rate_limited", "slow down")
            limited.headers["Retry-After"] = "1"
            return limited
        record = self._view.get(identity.agent_id)
        assert record is not None  # the verifier just found it
        entry = record.versions[identity.version]
        facts = AgentFacts(
            id=record.agent_id,
            version=entry.version,
            status=entry.status,
            capabilities=[{"kind": c.kind, "name": c.name} for c in entry.capabilities],
            risk_tier=record.risk_tier,
            owner=record.owner,
        )
        return identity, facts


def declares(facts: AgentFacts, resource: Resource) -> bool:
    """Whether the caller's registry capabilities name ``resource`` (its own profile counts)."""
    if resource.kind == "profile":
        return resource.name == facts.id
    return {"kind": resource.kind, "name": resource.name} in facts.capabilities
