"""``longboat run coordinator``: the engine's two agents, timers and the Mission Control API.

API (``LONGBOAT_COORDINATOR__PORT``, default 8470): ``GET /v1/inbox`` (needs your input /
errors / completed), ``GET /v1/workflows[?status=&definition=&version=&older_than_s=]``,
``GET /v1/workflows/{id}``, ``GET /v1/workflows/{id}/history``,
``POST /v1/workflows/{id}/signals``, the console's routes (:mod:`._console`; gateways, budgets
and registry changes in :mod:`._console_ops`; failures and run traces in
:mod:`._console_failures`), and the
lifecycle's ``/livez``, ``/readyz`` (both agents hold partitions) and ``/metrics`` (both
agents' metrics). Every API route needs an operator (see :mod:`._console_auth`); a signal is
recorded with who sent it.
Lifecycle: ``async with CoordinatorService(settings) as c: await c.run()`` (:class:`Service`).
"""

from __future__ import annotations

import asyncio
import socket
import time
from contextlib import AsyncExitStack
from typing import Any

from aiohttp import web

from longboat import (
    EnvelopeSerde,
    HttpEndpoint,
    Middleware,
    Service,
    TopicNames,
    answer,
    error_answer,
    get_logger,
    log_record_skipped,
    merged_metrics,
    read_body,
)
from longboat.agents import AgentRunner, AgentRuntimeSettings, AgentSettings
from longboat.coordinator._api import (
    HistoryAnswer,
    HistoryItem,
    Inbox,
    SignalAccepted,
    WaitingFor,
    WorkflowDetail,
    WorkflowList,
    WorkflowSummary,
)
from longboat.coordinator._console import MissionControl, principal_of
from longboat.coordinator._console_approvals import ToolApprovalDesk
from longboat.coordinator._console_failures import FailureLinks
from longboat.coordinator._console_ops import ConsoleFeeds
from longboat.coordinator._definitions import ApprovalStep, DefinitionSet
from longboat.coordinator._engine import CoordinatorEngine, CoordinatorRecord
from longboat.coordinator._protocol import SignalData, history_entry_of, signal_event
from longboat.coordinator._settings import CoordinatorSettings
from longboat.errors import EventError
from longboat.kafka import Producer, read_to_end
from longboat.registry import RegistryView

__all__ = ["CoordinatorService"]

_log = get_logger("coordinator.service")


class CoordinatorService(Service):
    """The coordinator process: its two agents (embedded, no ports of their own) and timers."""

    def __init__(self, settings: CoordinatorSettings) -> None:
        """Load and validate the workflow definitions now (a bad one stops the start)."""
        self.settings = settings
        self.names = TopicNames(settings.topic_prefix)
        self.definitions = DefinitionSet.from_dir(settings.coordinator.definitions)
        self.engine = CoordinatorEngine(settings.kafka, self.names, self.definitions)
        self.instance = settings.coordinator.instance or socket.gethostname()
        self.auth = settings.console_auth()  # no token, no start: Mission Control never runs open
        self.registry = RegistryView(settings.kafka, self.names.registry)
        self.feeds = ConsoleFeeds(settings.kafka, self.names)
        self.failures = FailureLinks(settings, self.engine, self.definitions)
        self.tool_approvals = ToolApprovalDesk(settings.kafka, self.names)
        self.console = MissionControl(
            settings,
            self.auth,
            self.registry,
            # The live stream also fires on policy, spend and registry changes.
            lambda: self._inbox_fingerprint() + self.feeds.fingerprint(),
            stale_after_s=settings.coordinator.stale_after_s,
        )
        self._runners = [
            AgentRunner(agent, self._agent_settings(role), http=False)
            for agent, role in ((self.engine.router(), "router"), (self.engine.core(), "core"))
        ]
        service = settings.coordinator
        super().__init__(
            name="coordinator",
            http=HttpEndpoint(
                host=service.host, port=service.port, setting="LONGBOAT_COORDINATOR__PORT"
            ),
            metrics=merged_metrics(r.metrics_registry for r in self._runners),
        )

    def _agent_settings(self, role: str) -> AgentSettings:
        runtime = AgentRuntimeSettings(
            instance=f"{self.instance}-{role}",
            checkpoint_ms=self.settings.coordinator.checkpoint_ms,
            checkpoint_adaptive=self.settings.coordinator.checkpoint_adaptive,
            session_timeout_ms=10_000,
        )
        return AgentSettings(
            kafka=self.settings.kafka, topic_prefix=self.settings.topic_prefix, agent=runtime
        )

    async def _open(self, stack: AsyncExitStack) -> None:
        self._producer = await stack.enter_async_context(Producer(self.settings.kafka))
        await stack.enter_async_context(self.registry)
        await stack.enter_async_context(self.feeds)
        await stack.enter_async_context(self.tool_approvals)
        for runner in self._runners:
            await stack.enter_async_context(runner)

    def _log_fields(self) -> dict[str, Any]:
        return {"definitions": [f"{d.name}@{d.version}" for d in self.definitions.all()]}

    def _on_shutdown(self) -> None:
        self.console.close_streams()  # open pages must not hold the shutdown up
        for runner in self._runners:
            runner.shutdown()

    async def _run(self, children: asyncio.TaskGroup, resources: AsyncExitStack) -> None:
        """Run both agents and the timers until :meth:`shutdown`."""
        for runner in self._runners:
            children.create_task(runner.run())
        children.create_task(
            self.engine.fire_timers(self._stopping, self.settings.coordinator.timer_interval_s)
        )
        await self._stopping.wait()

    def ready(self) -> bool:
        """Whether both agents hold partitions."""
        return all(r.ready() for r in self._runners) and not self._stopping.is_set()

    async def _not_ready(self) -> str | None:
        waiting = [r.agent.name for r in self._runners if not r.ready()]
        return f"no partitions assigned to {', '.join(waiting)}" if waiting else None

    # -- Mission Control --------------------------------------------------------------------
    def _middlewares(self) -> list[Middleware]:
        return [self.console.gate]

    def _routes(self) -> list[web.RouteDef]:
        return [
            *self.console.routes(),
            *self.feeds.routes(),
            *self.failures.routes(),
            *self.tool_approvals.routes(),
            web.get("/v1/inbox", self._inbox),
            web.get("/v1/workflows", self._list),
            web.get("/v1/workflows/{id}", self._get),
            web.get("/v1/workflows/{id}/history", self._history),
            web.post("/v1/workflows/{id}/signals", self._signal),
        ]

    def _inbox_fingerprint(self) -> str:
        # Tool approvals count too: a parked call must appear without a reload.
        return repr(
            sorted(
                (r.state.workflow_id, r.state.status, r.state.updated_at)
                for r in self.engine.all_records()
            )
        ) + repr(self.tool_approvals.revision)

    def _summary(self, record: CoordinatorRecord) -> WorkflowSummary:
        state = record.state
        return WorkflowSummary(
            workflow_id=state.workflow_id,
            definition=state.definition,
            version=record.definition_version,
            status=state.status,
            reason=state.reason,
            started_at=state.started_at,
            updated_at=state.updated_at,
            waiting_for=self._waiting_for(record),
        )

    def _waiting_for(self, record: CoordinatorRecord) -> WaitingFor | None:
        state = record.state
        definition = self.definitions.get(state.definition, record.definition_version)
        if state.status != "waiting_approval" or definition is None:
            return None
        if state.cursor >= len(definition.steps):
            return None
        step = definition.steps[state.cursor]
        if not isinstance(step, ApprovalStep):
            return None
        escalated = state.steps[step.id].escalated_to
        return WaitingFor(step=step.id, prompt=step.approval.prompt, escalated_to=escalated)

    async def _inbox(self, _: web.Request) -> web.Response:
        records = sorted(self.engine.all_records(), key=lambda r: r.state.updated_at, reverse=True)
        summaries = [self._summary(r) for r in records]
        ended = ("completed", "rejected", "cancelled")
        return answer(
            Inbox(
                needs_input=[s for s in summaries if s.status == "waiting_approval"],
                errors=[s for s in summaries if s.status == "failed"],
                completed=[s for s in summaries if s.status in ended][:100],
            )
        )

    async def _list(self, request: web.Request) -> web.Response:
        query = request.query
        try:
            older_than = float(query.get("older_than_s", "0"))
            version = int(query["version"]) if "version" in query else None
        except ValueError:
            return error_answer(400, "bad_filter", "version and older_than_s must be numbers")
        cutoff = time.time() - older_than
        records = [
            r
            for r in self.engine.all_records()
            if query.get("status", r.state.status) == r.state.status
            and query.get("definition", r.state.definition) == r.state.definition
            and version in (None, r.definition_version)
            and r.state.started_at <= cutoff
        ]
        records.sort(key=lambda r: r.state.updated_at, reverse=True)
        return answer(WorkflowList(workflows=[self._summary(r) for r in records]))

    async def _get(self, request: web.Request) -> web.Response:
        record = self.engine.record(request.match_info["id"])
        if record is None:
            return error_answer(404, "not_found", "no such workflow here")
        summary = self._summary(record).model_dump()
        return answer(WorkflowDetail(**summary, state=record.state, timers=list(record.timers)))

    async def _history(self, request: web.Request) -> web.Response:
        entries = await read_history(self.settings, request.match_info["id"])
        return answer(HistoryAnswer(history=entries))

    async def _signal(self, request: web.Request) -> web.Response:
        signal = await read_body(request, SignalData)
        if isinstance(signal, web.Response):
            return signal
        who = principal_of(request)
        # A shared operator token proves the role, not the person: such callers name themselves
        # in ``by``; a session or an OIDC token names them, and that name is what is recorded.
        by = signal.by if who.via == "token" and signal.by else who.name
        signal = signal.model_copy(update={"by": by})
        workflow_id = request.match_info["id"]
        event = signal_event(workflow_id, signal, source="longboat/mission-control")
        encoded = EnvelopeSerde().encode(event)
        await self._producer.send(
            self.names.signals, encoded.value, key=workflow_id.encode(), headers=encoded.headers
        )
        return answer(SignalAccepted(accepted=True, signal_id=event.id), status=202)


async def read_history(settings: CoordinatorSettings, workflow_id: str) -> list[HistoryItem]:
    """Every history entry of one workflow, in order (scans the history topic).

    A record that is not a readable history envelope is skipped with a ``record_skipped``
    warning: the topic outlives any one bad writer, and one junk record must not make every
    workflow's history unreadable.
    """
    serde = EnvelopeSerde()
    found: list[HistoryItem] = []
    topic = TopicNames(settings.topic_prefix).workflows_history
    async for raw in read_to_end(settings.kafka, topic):
        if raw.key != workflow_id.encode():
            continue
        try:
            event = serde.decode(raw.value, raw.headers)
            entry = history_entry_of(event)
        except EventError as e:
            log_record_skipped(_log, raw, e, reason=str(e))
            continue
        if entry is not None:
            time = event.time.isoformat()
            found.append(HistoryItem(time=time, type=entry.type, data=dict(entry.data)))
    return found
