"""The registry HTTP service: enrol, revoke, set status, heartbeats, and read access.

Mutations need the operator bearer token (401 without, 403 with a wrong one); heartbeats need
the agent's own token. Lifecycle (:class:`longboat.Service`): ``async with
RegistryService(settings) as s: await s.run()``; ``/metrics`` counts requests by route and status.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel

from longboat import (
    HttpEndpoint,
    Middleware,
    Service,
    TopicNames,
    answer,
    error_answer,
    get_logger,
    read_body,
)
from longboat.errors import LongboatError, ProducerFenced, UsageError
from longboat.registry._model import AgentRecord, Capability, Status
from longboat.registry._protocol import AgentList, EnrollRequest, HeartbeatRequest, StatusRequest
from longboat.registry._settings import RegistrySettings
from longboat.registry._store import (
    HeartbeatInvalid,
    RecordTooLarge,
    RegistryStore,
    UnknownAgent,
)
from longboat.registry._tokens import IdentityRefused, TokenVerifier

__all__ = ["RegistryService"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_BODY_BYTES = 64 * 1024
"""Largest request body the registry reads (enrolment and heartbeats are small)."""

_log = get_logger("registry.service")


_error = error_answer


def _record(record: AgentRecord, status: int = 200) -> web.Response:
    return answer(record, status)


class RegistryService(Service):
    """Serves the registry API over a :class:`RegistryStore`."""

    def __init__(self, settings: RegistrySettings) -> None:
        """Validate settings now (the operator token must be configured)."""
        self._operator = settings.expected_operator_token()
        service = settings.registry
        metrics = CollectorRegistry()
        super().__init__(
            name="registry",
            http=HttpEndpoint(
                host=service.host, port=service.port, setting="LONGBOAT_REGISTRY__PORT"
            ),
            metrics=metrics,
        )
        self.settings = settings
        self.store: RegistryStore | None = None
        self._requests = Counter(
            "longboat_registry_requests",
            "Registry API requests",
            ["route", "status"],
            registry=metrics,
        )

    async def _open(self, stack: AsyncExitStack) -> None:
        names = TopicNames(self.settings.topic_prefix)
        grace = timedelta(seconds=self.settings.registry.rotation_grace_s)
        self.store = await stack.enter_async_context(
            RegistryStore(self.settings.kafka, names.registry, rotation_grace=grace)
        )
        self._verifier = TokenVerifier(
            self.store, max_lifetime_s=self.settings.registry.token_max_lifetime_s
        )

    def _log_fields(self) -> dict[str, Any]:
        return {"agents": len(self.store.agents()) if self.store else 0}

    def _middlewares(self) -> list[Middleware]:
        return [self._count]

    def _routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v1/agents", self._list),
            web.get("/v1/agents/{agent_id}", self._get),
            web.post("/v1/agents", self._enroll),
            web.post("/v1/agents/{agent_id}/status", self._status),
            web.post("/v1/agents/{agent_id}/revoke", self._revoke),
            web.post("/v1/agents/{agent_id}/heartbeat", self._heartbeat),
        ]

    @web.middleware
    async def _count(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except ProducerFenced:
            # Another registry took over the topic: this one must not serve writes any more.
            self.shutdown()
            response = _error(503, "registry_fenced", "another registry instance is now the writer")
        except UsageError as e:
            # The caller's mistake (an unknown agent, a field out of bounds): never a 5xx.
            response = _error(400, e.code, str(e))
        except LongboatError as e:
            response = _error(503 if e.retryable else 500, e.code, str(e))
        route = (
            request.match_info.route.resource.canonical
            if request.match_info.route.resource
            else "?"
        )
        self._requests.labels(route, str(response.status)).inc()
        return response

    def _operator_denied(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return _error(
                401, "unauthenticated", "send the operator token: Authorization: Bearer <token>"
            )
        if not hmac.compare_digest(
            header.removeprefix("Bearer ").encode(), self._operator.encode()
        ):
            return _error(403, "forbidden", "the operator token is wrong")
        return None

    async def _body(self, request: web.Request, model: type[BaseModel]) -> BaseModel | web.Response:
        return await read_body(request, model, limit=MAX_BODY_BYTES)

    async def _list(self, _: web.Request) -> web.Response:
        assert self.store is not None
        return answer(AgentList(agents=self.store.agents()))

    async def _get(self, request: web.Request) -> web.Response:
        assert self.store is not None
        record = self.store.get(request.match_info["agent_id"])
        if record is None:
            return _error(404, "agent_unknown", f"no agent {request.match_info['agent_id']!r}")
        return _record(record)

    async def _enroll(self, request: web.Request) -> web.Response:
        assert self.store is not None
        if (denied := self._operator_denied(request)) is not None:
            return denied
        body = await self._body(request, EnrollRequest)
        if isinstance(body, web.Response):
            return body
        assert isinstance(body, EnrollRequest)
        try:
            capabilities = tuple(Capability.parse(c) for c in body.capabilities)
            record = await self.store.enroll(
                body.agent_id,
                version=body.version,
                public_key=body.public_key,
                capabilities=capabilities,
                owner=body.owner,
                risk_tier=body.risk_tier,
                prompt_version=body.prompt_version,
            )
        except (ValueError, UsageError) as e:
            return _error(400, "invalid_request", str(e))
        _log.info("agent_enrolled", agent_id=body.agent_id, version=body.version)
        return _record(record, 201)

    async def _status(self, request: web.Request, *, default: Status | None = None) -> web.Response:
        assert self.store is not None
        if (denied := self._operator_denied(request)) is not None:
            return denied
        body = await self._body(request, StatusRequest)
        if isinstance(body, web.Response):
            return body
        assert isinstance(body, StatusRequest)
        agent_id = request.match_info["agent_id"]
        try:
            record = await self.store.set_status(
                agent_id, default or body.status, version=body.version
            )
        except UnknownAgent as e:
            return _error(404, e.code, str(e))
        except RecordTooLarge as e:
            return _error(413, e.code, str(e))
        _log.info(
            "agent_status_set",
            agent_id=agent_id,
            version=body.version,
            status=default or body.status,
        )
        return _record(record)

    async def _revoke(self, request: web.Request) -> web.Response:
        return await self._status(request, default="revoked")

    async def _heartbeat(self, request: web.Request) -> web.Response:
        assert self.store is not None
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return _error(
                401, "unauthenticated", "send the agent token: Authorization: Bearer <jwt>"
            )
        try:
            identity = self._verifier.verify(header.removeprefix("Bearer "))
        except IdentityRefused as e:
            return _error(401, f"identity_{e.reason}", str(e))
        if identity.agent_id != request.match_info["agent_id"]:
            return _error(403, "forbidden", "a token may only heartbeat for its own agent")
        body = await self._body(request, HeartbeatRequest)
        if isinstance(body, web.Response):
            return body
        assert isinstance(body, HeartbeatRequest)
        try:
            record = await self.store.heartbeat(
                identity.agent_id,
                identity.version,
                identity.instance,
                body.code_digest,
                counters=body.counters,
            )
        except HeartbeatInvalid as e:
            return _error(400, e.code, str(e))
        except RecordTooLarge as e:
            return _error(413, e.code, str(e))
        return _record(record)
