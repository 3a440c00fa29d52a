"""Per-request checks before the policy: identity (registry token) and rate limits."""

from __future__ import annotations

import time
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from longboat import JsonInvalid, JsonTooLarge, describe_errors, loads_strict
from longboat.gateway._decision import AgentFacts, Resource
from longboat.gateway._memory import MAX_VALUE_BYTES
from longboat.registry import IdentityRefused, RegistryView, TokenVerifier, VerifiedIdentity

__all__ = ["Guard", "RateLimiter", "declares", "read_body"]

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
            return web.json_response(
                {"error": "unauthenticated", "message": "send Authorization: Bearer <agent token>"},
                status=401,
            )
        try:
            identity = self._verifier.verify(header.removeprefix("Bearer "))
        except IdentityRefused as e:
            return web.json_response(
                {"error": f"identity_{e.reason}", "message": str(e)}, status=401
            )
        if not self._limiter.allow(identity.agent_id):
            return web.json_response(
                {"error": "rate_limited", "message": "slow down"},
                status=429,
                headers={"Retry-After": "1"},
            )
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


async def read_body(request: web.Request, model: type[_M]) -> _M | web.Response:
    """The request body as ``model``: bounded (413) and strict JSON (400), nothing else read."""
    try:
        if (request.content_length or 0) > MAX_VALUE_BYTES:
            raise JsonTooLarge(request.content_length or 0, MAX_VALUE_BYTES)
        raw = await request.read()
        return model.model_validate(loads_strict(raw, limit=MAX_VALUE_BYTES))
    except JsonTooLarge as e:
        return web.json_response({"error": e.code, "message": str(e)}, status=413)
    except JsonInvalid as e:
        return web.json_response({"error": e.code, "message": str(e)}, status=400)
    except ValidationError as e:
        return web.json_response(
            {"error": "invalid_request", "message": describe_errors(e)}, status=400
        )


def declares(facts: AgentFacts, resource: Resource) -> bool:
    """Whether the caller's registry capabilities name ``resource`` (its own profile counts)."""
    if resource.kind == "profile":
        return resource.name == facts.id
    return {"kind": resource.kind, "name": resource.name} in facts.capabilities
