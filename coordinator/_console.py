"""Mission Control's console: login, fleet and governance routes, live updates, the gate.

Everything here reads what already lives in Kafka: the registry view (agents, versions,
instances, heartbeats), consumer-group lag, ``lb.decisions``, ``lb.memory.audit`` and the
agents' dead-letter topics. The page (``static/``) calls these routes and the workflow routes
with the same JSON the CLI reads. Governance lists scan their topic on each request: they are
audit views an operator opens, not hot paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from longboat import Settings, TopicNames, answer, error_answer, read_body
from longboat.agents import Agent, list_dead_letters, replay_dead_letters
from longboat.coordinator._console_api import (
    AgentRow,
    DeadLetterList,
    DeadLetterRow,
    DecisionList,
    FleetAnswer,
    InstanceRow,
    Login,
    MemoryAuditList,
    Replay,
    SessionInfo,
    VersionRow,
)
from longboat.coordinator._console_auth import SESSION_COOKIE, ConsoleAuth, Principal
from longboat.errors import TopicError, UsageError
from longboat.gateway import DECISION_RECORDS, MEMORY_AUDITS, DecisionRecord
from longboat.kafka import group_lag, read_decoded
from longboat.registry import AgentRecord, RegistryView, VersionEntry

__all__ = ["PUBLIC_PATHS", "MissionControl"]

_STATIC = Path(__file__).with_name("static")
# Served to anyone: the page shell and its assets hold no data; health and metrics are for
# probes and scrapers.
PUBLIC_PATHS = frozenset({"/", "/login", "/livez", "/readyz", "/metrics"})
# The page's own files, by name: nothing else under static/ is ever served.
_ASSETS = {
    "console.js": "text/javascript",
    "console.css": "text/css",
    "tool_approvals.js": "text/javascript",
}
_DECISION_LIMIT = 200

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def principal_of(request: web.Request) -> Principal:
    """The authenticated caller of a request that passed the gate."""
    found = request.get("principal")
    assert isinstance(found, Principal), "route reached without the console gate"
    return found


class MissionControl:
    """The console's routes and its authentication gate."""

    def __init__(
        self,
        settings: Settings,
        auth: ConsoleAuth,
        registry: RegistryView,
        changes: Callable[[], str],
        *,
        stale_after_s: float = 30.0,
    ) -> None:
        """Serve over ``registry``; ``changes`` fingerprints what the inbox shows."""
        self.stale_after_s = stale_after_s
        self.settings = settings
        self.names = TopicNames(settings.topic_prefix)
        self.auth = auth
        self.registry = registry
        self._changes = changes
        self._closing = asyncio.Event()

    def close_streams(self) -> None:
        """End every live-update stream now (the service is stopping)."""
        self._closing.set()

    # -- the gate ---------------------------------------------------------------------------
    @web.middleware
    async def gate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Refuse unauthenticated callers, read-only writers and requests without CSRF."""
        if request.path in PUBLIC_PATHS or request.path.startswith("/static/"):
            return await handler(request)
        principal = self.auth.authenticate(request)
        refused = self.auth.refusal(request, principal)
        if refused is not None:
            return refused
        request["principal"] = principal
        return await handler(request)

    def routes(self) -> list[web.RouteDef]:
        """The console's routes (the workflow routes are the service's)."""
        return [
            web.get("/", self._page),
            web.get("/static/{name}", self._asset),
            web.post("/login", self._login),
            web.post("/logout", self._logout),
            web.get("/v1/session", self._session),
            web.get("/v1/fleet", self._fleet),
            web.get("/v1/decisions", self._decisions),
            web.get("/v1/memory/{bank}/audit", self._memory_audit),
            web.get("/v1/dead-letters", self._dead_letters),
            web.post("/v1/dead-letters/{agent}/replay", self._replay),
            web.get("/v1/stream", self._stream),
        ]

    # -- session ----------------------------------------------------------------------------
    async def _page(self, _: web.Request) -> web.Response:
        page = (_STATIC / "index.html").read_text()
        return web.Response(
            text=page,
            content_type="text/html",
            headers={
                # Only this console's own scripts and styles run: no CDN, no inline injection.
                "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def _asset(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        kind = _ASSETS.get(name)
        if kind is None:
            return error_answer(404, "not_found", "no such file")
        return web.Response(text=(_STATIC / name).read_text(), content_type=kind)

    async def _login(self, request: web.Request) -> web.Response:
        login = await read_body(request, Login)
        if isinstance(login, web.Response):
            return login
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            return error_answer(403, "csrf", "log in from this Mission Control page")
        found = self.auth.of_token(login.token, request)
        if found is None:
            return error_answer(401, "unauthenticated", "that token is not accepted here")
        # The shared operator token proves the role; the person names themselves.
        named = found if found.via == "bearer" else found.model_copy(update={"name": login.name})
        cookie, session = self.auth.session_cookie(named)
        response = answer(SessionInfo(name=session.name, role=session.role, csrf=session.csrf))
        response.set_cookie(
            SESSION_COOKIE,
            cookie,
            httponly=True,
            samesite="Strict",
            secure=request.secure,
            path="/",
        )
        return response

    async def _logout(self, _: web.Request) -> web.Response:
        response = answer(SessionInfo(name=None, role=None))
        response.del_cookie(SESSION_COOKIE, path="/")
        return response

    async def _session(self, request: web.Request) -> web.Response:
        who = principal_of(request)
        return answer(SessionInfo(name=who.name, role=who.role, csrf=who.csrf))

    # -- fleet ------------------------------------------------------------------------------
    async def _fleet(self, _: web.Request) -> web.Response:
        records = self.registry.agents()
        rows = await asyncio.gather(*(self._agent_row(r) for r in records))
        return answer(FleetAnswer(agents=list(rows), stale_after_s=self.stale_after_s))

    async def _agent_row(self, record: AgentRecord) -> AgentRow:
        now = datetime.now(UTC)
        versions = [
            version_row(
                v,
                [
                    InstanceRow(
                        instance=i.instance,
                        last_heartbeat=i.last_heartbeat,
                        stale=self._is_stale(i.last_heartbeat, now),
                        counters=i.counters,
                        records_per_s=i.records_per_s,
                    )
                    for i in v.instances.values()
                ],
            )
            for v in record.versions.values()
        ]
        group = Agent(record.agent_id).group_id(self.names)
        lag = await group_lag(self.settings.kafka, group)
        letters = await self._letters_of(record.agent_id)
        return AgentRow(
            agent_id=record.agent_id,
            owner=record.owner,
            risk_tier=record.risk_tier,
            versions=versions,
            lag=lag,
            dead_letters=sum(not d.replayed for d in letters),
            updated_at=record.updated_at,
        )

    def _is_stale(self, last_heartbeat: datetime, now: datetime) -> bool:
        return (now - last_heartbeat).total_seconds() > self.stale_after_s

    def _stale_instances(self, record: AgentRecord, now: datetime) -> list[str]:
        return sorted(
            f"{v.version}/{i.instance}"
            for v in record.versions.values()
            for i in v.instances.values()
            if self._is_stale(i.last_heartbeat, now)
        )

    # -- governance -------------------------------------------------------------------------
    async def _decisions(self, request: web.Request) -> web.Response:
        query = request.query
        found: list[DecisionRecord] = []
        try:
            async for item in read_decoded(
                self.settings.kafka, self.names.decisions, DECISION_RECORDS
            ):
                if item.value is not None and _matches(item.value, query):
                    found.append(item.value)
        except TopicError:
            pass  # no gateway has decided anything yet
        found.sort(key=lambda d: d.time, reverse=True)
        return answer(DecisionList(decisions=found[:_DECISION_LIMIT]))

    async def _memory_audit(self, request: web.Request) -> web.Response:
        bank = request.match_info["bank"]
        topic = self.names.memory_audit
        try:
            changes = [
                item.value
                async for item in read_decoded(self.settings.kafka, topic, MEMORY_AUDITS)
                if item.value is not None and item.value.bank == bank
            ]
        except TopicError:
            changes = []  # nothing was ever remembered
        changes.sort(key=lambda c: c.time, reverse=True)
        return answer(MemoryAuditList(bank=bank, changes=changes[:_DECISION_LIMIT]))

    async def _letters_of(self, agent: str) -> list[DeadLetterRow]:
        try:
            entries = await list_dead_letters(self.settings.kafka, self.names.dlq(agent))
        except TopicError:
            return []  # the agent never had a DLQ topic
        return [
            DeadLetterRow(
                agent=agent,
                id=e.id,
                time=e.time,
                topic=e.letter.topic,
                partition=e.letter.partition,
                offset=e.letter.offset,
                error_type=e.letter.error_type,
                reason=e.letter.message,
                replayed=e.replayed,
                details={"run_id": e.letter.run_id, "attempts": e.letter.attempts},
            )
            for e in entries
        ]

    async def _dead_letters(self, request: web.Request) -> web.Response:
        wanted = request.query.get("agent")
        agents = [wanted] if wanted else [r.agent_id for r in self.registry.agents()]
        rows = [row for agent in agents for row in await self._letters_of(agent)]
        rows.sort(key=lambda r: r.time, reverse=True)
        return answer(DeadLetterList(dead_letters=rows))

    async def _replay(self, request: web.Request) -> web.Response:
        replay = await read_body(request, Replay)
        if isinstance(replay, web.Response):
            return replay
        agent = request.match_info["agent"]
        ids = set(replay.ids) if replay.ids is not None else None
        try:
            await replay_dead_letters(self.settings.kafka, self.names.dlq(agent), ids=ids)
        except UsageError as e:
            return error_answer(409, "not_replayable", str(e))
        return answer(DeadLetterList(dead_letters=await self._letters_of(agent)))

    # -- live updates -----------------------------------------------------------------------
    async def _stream(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: ``changed`` whenever the inbox or the fleet changes."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        last = ""
        try:
            while request.transport is not None and not request.transport.is_closing():
                now = self._fingerprint()
                if now != last:
                    await response.write(f"event: changed\ndata: {now}\n\n".encode())
                    last = now
                else:
                    await response.write(b": keep-alive\n\n")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), timeout=1)
                if self._closing.is_set():
                    break  # the service stops: the page reconnects to whoever serves next
        except ConnectionResetError:
            pass  # the page went away: nothing to clean up
        return response

    def _fingerprint(self) -> str:
        # Staleness is part of the fingerprint: a killed instance changes nothing in the
        # registry, yet the fleet view must show it going stale without a reload.
        now = datetime.now(UTC)
        fleet = [
            (a.agent_id, a.revision, a.updated_at.isoformat(), self._stale_instances(a, now))
            for a in self.registry.agents()
        ]
        text = self._changes() + repr(fleet)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def version_row(entry: VersionEntry, instances: list[InstanceRow]) -> VersionRow:
    """One version's row: its instances, and their rates and totals added up.

    A stale instance's last rate is not current throughput, so it counts for no rate; its
    totals still count (those records were processed, those letters still exist).
    """
    rates = [i.records_per_s for i in instances if i.records_per_s is not None and not i.stale]
    totals = [i.counters for i in instances if i.counters is not None]
    return VersionRow(
        version=entry.version,
        status=entry.status,
        code_digest=entry.code_digest,
        instances=instances,
        records_per_s=round(sum(rates), 3) if rates else None,
        errors=sum(c.errors for c in totals),
        dead_lettered=sum(c.dead_lettered for c in totals),
    )


def _matches(record: DecisionRecord, query: Mapping[str, str]) -> bool:
    """Whether a decision passes the agent/action/allow/reason/digest filters."""
    get = query.get
    allow = get("allow")
    checks = (
        (get("agent"), record.input.agent.id),
        (get("action"), record.input.action),
        (get("digest"), record.policy_digest or ""),
    )
    if any(wanted and wanted != actual for wanted, actual in checks):
        return False
    if allow in ("true", "false") and record.decision.allow != (allow == "true"):
        return False
    reason = get("reason")
    return not reason or any(reason in r for r in record.decision.reasons)
