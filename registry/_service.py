"""The registry HTTP service: enrol, revoke, set status, heartbeats, and read access.

Mutations need the operator bearer token (401 without, 403 with a wrong one); heartbeats need
the agent's own token. Lifecycle: ``async with RegistryService(settings) as s: await s.run()``.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from types import TracebackType
from typing import Self

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from longboat import (
    JsonInvalid,
    JsonTooLarge,
    TopicNames,
    describe_errors,
    get_logger,
    loads_strict,
    serve_http,
)
from longboat.errors import LongboatError, ProducerFenced, UsageError
from longboat.registry._model import (
    CODE_DIGEST_PATTERN,
    AgentRecord,
    Capability,
    RiskTier,
    Status,
    check_public_key,
)
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


class EnrollRequest(BaseModel):
    """Body of ``POST /v1/agents``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

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


class StatusRequest(BaseModel):
    """Body of ``POST /v1/agents/{id}/status`` (and ``/revoke`` without ``status``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: Status = "revoked"
    version: str | None = None


class HeartbeatRequest(BaseModel):
    """Body of ``POST /v1/agents/{id}/heartbeat``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code_digest: str | None = Field(default=None, pattern=CODE_DIGEST_PATTERN)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


def _record(record: AgentRecord, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=record.model_dump_json(), content_type="application/json"
    )


class RegistryService:
    """Serves the registry API over a :class:`RegistryStore`."""

    def __init__(self, settings: RegistrySettings) -> None:
        """Validate settings now (the operator token must be configured)."""
        self.settings = settings
        self._operator = settings.expected_operator_token()
        self._stack = AsyncExitStack()
        self._stopping = asyncio.Event()
        self.store: RegistryStore | None = None
        self.port = settings.registry.port
        self._metrics = CollectorRegistry()
        self._requests = Counter(
            "longboat_registry_requests",
            "Registry API requests",
            ["route", "status"],
            registry=self._metrics,
        )

    async def __aenter__(self) -> Self:
        try:
            await self._open()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def _open(self) -> None:
        names = TopicNames(self.settings.topic_prefix)
        grace = timedelta(seconds=self.settings.registry.rotation_grace_s)
        self.store = await self._stack.enter_async_context(
            RegistryStore(self.settings.kafka, names.registry, rotation_grace=grace)
        )
        self._verifier = TokenVerifier(
            self.store, max_lifetime_s=self.settings.registry.token_max_lifetime_s
        )
        service = self.settings.registry
        self.port = await serve_http(self._stack, self._app(), service.host, service.port)
        _log.info("registry_started", port=self.port, agents=len(self.store.agents()))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    def shutdown(self) -> None:
        """Stop serving (idempotent; safe from a signal handler)."""
        self._stopping.set()

    async def run(self) -> None:
        """Serve until :meth:`shutdown`."""
        await self._stopping.wait()
        _log.info("registry_stopped")

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._count])
        app.router.add_get("/livez", self._livez)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics_page)
        app.router.add_get("/v1/agents", self._list)
        app.router.add_get("/v1/agents/{agent_id}", self._get)
        app.router.add_post("/v1/agents", self._enroll)
        app.router.add_post("/v1/agents/{agent_id}/status", self._status)
        app.router.add_post("/v1/agents/{agent_id}/revoke", self._revoke)
        app.router.add_post("/v1/agents/{agent_id}/heartbeat", self._heartbeat)
        return app

    @web.middleware
    async def _count(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except ProducerFenced:
            # Another registry took over the topic: this one must not serve writes any more.
            self.shutdown()
            response = _error(503, "registry_fenced", "another registry instance is now the writer")
        except LongboatError as e:
            response = _error(503 if e.retryable else 500, e.code, str(e))
        route = (
            request.match_info.route.resource.canonical
            if request.match_info.route.resource
            else "?"
        )
        self._requests.labels(route, str(response.status)).inc()
        return response

    async def _livez(self, _: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, _: web.Request) -> web.Response:
        if self._stopping.is_set():
            return web.Response(status=503, text="stopping\n")
        return web.Response(text="ready\n")

    async def _metrics_page(self, _: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self._metrics), content_type="text/plain")

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
        # Strict JSON, bounded, before any model sees it: NaN and oversize bodies are refused.
        try:
            if (request.content_length or 0) > MAX_BODY_BYTES:
                raise JsonTooLarge(request.content_length or 0, MAX_BODY_BYTES)
            raw = await request.read()
            return model.model_validate(loads_strict(raw, limit=MAX_BODY_BYTES))
        except JsonTooLarge as e:
            return _error(413, e.code, str(e))
        except JsonInvalid as e:
            return _error(400, e.code, str(e))
        except ValidationError as e:
            return _error(400, "invalid_request", describe_errors(e))

    async def _list(self, _: web.Request) -> web.Response:
        assert self.store is not None
        body = "[" + ",".join(r.model_dump_json() for r in self.store.agents()) + "]"
        return web.Response(body='{"agents":' + body + "}", content_type="application/json")

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
                identity.agent_id, identity.version, identity.instance, body.code_digest
            )
        except HeartbeatInvalid as e:
            return _error(400, e.code, str(e))
        except RecordTooLarge as e:
            return _error(413, e.code, str(e))
        return _record(record)
