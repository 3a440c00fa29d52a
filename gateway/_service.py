"""The policy gateway: identity, an OPA decision and a decision log for every memory and tool
access. Lifecycle (:class:`longboat.Service`): ``async with GatewayService(settings) as gateway:
await gateway.run()``; ``/readyz`` is 200 once a policy is loaded and OPA answers."""

from __future__ import annotations

import asyncio
import gc
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any, Literal

from aiohttp import web
from pydantic import JsonValue

from longboat import HttpEndpoint, Service, TopicNames, get_logger, utc_now
from longboat.errors import LongboatError
from longboat.gateway._approval_gate import (
    Cleared,
    approval_status,
    clear_tool_call,
    tool_context,
)
from longboat.gateway._approvals import ApprovalBook
from longboat.gateway._catalog import ToolCatalogue
from longboat.gateway._decision import (
    DECISION_RECORDS,
    Action,
    AgentFacts,
    ApprovalFact,
    DecisionRecord,
    PiiFindingFact,
    PolicyContext,
    PolicyDecision,
    PolicyInput,
    Resource,
    trace_decision,
)
from longboat.gateway._distribution import PolicyDistributor
from longboat.gateway._embeddings import EmbeddingsNotConfigured, EmbeddingsUnavailable
from longboat.gateway._guard import Guard, RateLimiter, declares
from longboat.gateway._mcp import McpUpstreams
from longboat.gateway._mcp_calls import invoke_mcp_tool
from longboat.gateway._mcp_server import McpEndpoint
from longboat.gateway._memory import (
    MAX_VALUE_BYTES,
    MemoryStore,
    MemoryTooLarge,
    Provenance,
    profile_bank,
)
from longboat.gateway._metrics import GatewayMetrics
from longboat.gateway._models import ModelRoutes
from longboat.gateway._opa import DecisionSource, PolicyEngine, QuestionOutcome, refusal
from longboat.gateway._pii import PiiReport, classify_write, scan_is_small
from longboat.gateway._profiles import refuse_untyped
from longboat.gateway._protocol import (
    MemoryDeleted,
    MemoryDeletion,
    MemorySearch,
    MemorySearchResult,
    MemoryWrite,
    PolicyAnswer,
    PolicyQuestion,
    ProfileDocument,
    ToolInvocation,
    ToolResult,
    answer,
    error_answer,
    policy_name_problem,
    read_body,
)
from longboat.gateway._settings import GatewaySettings
from longboat.gateway._tools import ToolFailed, ToolLedger, ToolRegistry, ToolUnavailable
from longboat.gateway._usage import Clock, UsageLedger
from longboat.kafka import Producer
from longboat.llm import provider_from_settings
from longboat.registry import RegistryView, VerifiedIdentity

__all__ = ["GatewayService"]

_log = get_logger("gateway.service")


Guarded = Callable[[web.Request, VerifiedIdentity, AgentFacts], Awaitable[web.Response]]
# Profiles are the caller's own working memory: deleting from one is a write to it.
_ACTIONS: dict[tuple[str, str], Action] = {
    ("memory", "read"): "memory.read",
    ("memory", "write"): "memory.write",
    ("memory", "delete"): "memory.delete",
    ("profile", "read"): "profile.read",
    ("profile", "write"): "profile.write",
    ("profile", "delete"): "profile.write",
}
# Why a policy question got no answer: (status, error code, reason, retryable).
_UNANSWERED: dict[str, tuple[int, str, str, bool]] = {
    "timeout": (503, "policy_unavailable", "policy engine timed out", True),
    "unavailable": (503, "policy_unavailable", "policy engine unavailable", True),
    "undefined": (404, "policy_unknown", "no policy defines data.longboat.{}.decision", False),
    "malformed": (422, "policy_malformed", "data.longboat.{}.decision is not an object", False),
}


_MAX_QUERY_CHARS = 200
# Classification runs in worker threads; this many at once, so hostile writes queue behind
# each other instead of taking every thread (and the GIL) from the event loop.
_CLASSIFIERS = 2


def _loggable(policy_input: PolicyInput) -> PolicyInput:
    """The input as the decision log keeps it: a key holding personal data is redacted, and so
    are tool arguments holding it (they were classified before the decision).

    Keys come from the URL (bounded by the HTTP header limit), so classifying one is cheap.
    """
    context = policy_input.context
    if context.arguments is not None and context.pii:
        redacted = context.model_copy(update={"arguments": "[redacted: personal data]"})
        policy_input = policy_input.model_copy(update={"context": redacted})
    key = policy_input.resource.key
    if not key or not classify_write(None, key=key).kinds:
        return policy_input
    resource = policy_input.resource.model_copy(update={"key": "[redacted: personal data]"})
    return policy_input.model_copy(update={"resource": resource})


def _pii_context(body: MemoryWrite, report: PiiReport) -> PolicyContext:
    findings = [PiiFindingFact(kind=f.kind, location=f.location) for f in report.findings]
    return PolicyContext(
        workflow_id=body.workflow_id,
        run_id=body.run_id,
        pii=report.kinds,
        pii_findings=findings,
        pii_signals=report.signals,
    )


class GatewayService(Service):
    """Serves ``/v1/memory``, ``/v1/profiles``, ``/v1/tools``, ``/v1/decisions``, ``/mcp`` and
    health."""

    def __init__(self, settings: GatewaySettings, *, clock: Clock = utc_now) -> None:
        """Validate settings now (the tools file is read here).

        ``clock`` times model usage against budget windows (tests turn windows with it).
        """
        gw = settings.gateway
        self.metrics = GatewayMetrics()
        super().__init__(
            name="gateway",
            http=HttpEndpoint(host=gw.host, port=gw.port, setting="LONGBOAT_GATEWAY__PORT"),
            metrics=self.metrics.registry,
        )
        self.settings = settings
        self.names = TopicNames(settings.topic_prefix)
        self.instance = gw.instance or socket.gethostname()
        self.tools = ToolRegistry.from_file(gw.tools_file)
        self.upstreams = McpUpstreams(self.tools.servers, counted=self.metrics.mcp_call_path)
        self.classifying = asyncio.Semaphore(_CLASSIFIERS)
        self._clock = clock

    async def _open(self, stack: AsyncExitStack) -> None:
        kafka, gw = self.settings.kafka, self.settings.gateway
        enter = stack.enter_async_context
        self.engine = await enter(PolicyEngine(self.settings.opa_url, timeout_ms=gw.opa_timeout_ms))
        view = await enter(RegistryView(kafka, self.names.registry))
        self.guard = Guard(view, RateLimiter(gw.rate_limit_per_minute))
        self.memory = await enter(
            MemoryStore(kafka, self.names, writer_id=self.instance, embeddings=gw.embeddings)
        )
        self.ledger = await enter(ToolLedger(kafka, self.names.tools_ledger))
        self.approvals = await enter(ApprovalBook(kafka, self.names))
        await enter(self.tools)
        self.catalogue = await enter(ToolCatalogue(kafka, self.names, instance=self.instance))
        # MCP sessions close with the gateway; what they serve is checked against approvals.
        await self.upstreams.open(stack)
        await self.catalogue.serve(await self.upstreams.discover())
        self._decisions = await enter(Producer(kafka, linger_ms=5))
        self.policies = await enter(
            PolicyDistributor(kafka, self.names.policies, self.engine, instance=self.instance)
        )
        self.usage = await enter(UsageLedger(kafka, self.names.models_usage, clock=self._clock))
        provider = provider_from_settings(gw.llm)
        stack.push_async_callback(provider.close)
        # /mcp serves the same governed tools to MCP clients (routes added in _routes).
        self.mcp_endpoint = McpEndpoint(self)
        await self.mcp_endpoint.open(stack)
        self.models = ModelRoutes(
            engine=self.engine,
            ledger=self.usage,
            provider=provider,
            bundle=lambda: self.policies.active,
            log=self.log_decision,
        )
        # What startup built (modules, clients, the registry view) lives as long as the process:
        # frozen out of the collector's sight, so a full collection walks only what requests
        # made instead of pausing the event loop for tens of milliseconds (the p99 tail).
        # Collected first, so that startup's garbage is freed rather than frozen with it.
        gc.collect()
        gc.freeze()

    def _log_fields(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "tools": sorted(self.tools.specs),
            "mcp_tools": self.catalogue.names,
        }

    async def _not_ready(self) -> str | None:
        if self.policies.active is None:
            return "no policy loaded"
        if not await self.engine.healthy():
            return "OPA unreachable"
        return None

    def _routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v1/policy", self._policy),
            web.get("/v1/memory/{bank}", self._guarded(self._search)),
            web.get("/v1/memory/{bank}/{key}", self._guarded(self._get)),
            web.put("/v1/memory/{bank}/{key}", self._guarded(self._put)),
            web.delete("/v1/memory/{bank}/{key}", self._guarded(self._delete)),
            web.get("/v1/profiles", self._guarded(self._profile)),
            web.get("/v1/profiles/{key}", self._guarded(self._get)),
            web.put("/v1/profiles/{key}", self._guarded(self._put)),
            web.delete("/v1/profiles/{key}", self._guarded(self._delete)),
            web.post("/v1/tools/{name}/invoke", self._guarded(self._invoke)),
            web.get("/v1/tools/approvals/{id}", self._guarded(self._approval)),
            web.post("/v1/decisions/{policy}", self._guarded(self._question)),
            web.post("/v1/models/complete", self._guarded(self.models.complete)),
            *self.mcp_endpoint.routes(),
        ]

    async def _policy(self, _: web.Request) -> web.Response:
        status = self.policies.status
        if status is None:
            return error_answer(404, "not_found", "no policy bundle loaded yet")
        return answer(status)

    def _digest(self) -> str | None:
        """The active policy bundle's digest (kept in memory provenance for drift audits)."""
        return self.policies.active.digest if self.policies.active else None

    # -- the decision ---------------------------------------------------------------------
    async def _decide(
        self, facts: AgentFacts, action: Action, resource: Resource, context: PolicyContext
    ) -> tuple[PolicyDecision, str]:
        policy_input = PolicyInput(agent=facts, action=action, resource=resource, context=context)
        started = time.perf_counter()
        decision, source = await self.engine.decide(policy_input)
        decision_id = await self.log_decision(policy_input, decision, source, started)
        return decision, decision_id

    async def log_decision(
        self,
        policy_input: PolicyInput,
        decision: PolicyDecision,
        source: DecisionSource | Literal["gateway"],
        started: float,
        answer: dict[str, JsonValue] | None = None,
        approval: ApprovalFact | None = None,
    ) -> str:
        """Count and log one decision to ``lb.decisions``; returns its id.

        ``approval``: the operator's approval a tool call runs under (who, and the arguments
        they edited).
        """
        duration = time.perf_counter() - started
        decision_id = uuid.uuid4().hex
        self.metrics.decided(decision.allow, source, duration)
        trace_decision(
            policy_input,
            decision,
            source=source,
            policy_digest=self._digest(),
            decision_id=decision_id,
            duration_s=duration,
        )
        if self.settings.gateway.decision_log:
            record = DecisionRecord(
                decision_id=decision_id,
                time=utc_now(),
                gateway=self.instance,
                policy_digest=self.policies.active.digest if self.policies.active else None,
                input=_loggable(policy_input),
                decision=decision,
                duration_ms=round(duration * 1000, 3),
                source=source,
                answer=answer,
                approval=approval,
            )
            try:
                # Queued, not awaited: the log must not add a broker round trip to every request.
                await self._decisions.enqueue(
                    self.names.decisions,
                    DECISION_RECORDS.encode(record),
                    key=policy_input.agent.id.encode(),
                )
            except LongboatError as e:
                _log.error("decision_log_failed", error_type=type(e).__name__)
        return decision_id

    async def allowed(
        self, facts: AgentFacts, action: Action, resource: Resource, context: PolicyContext
    ) -> str | web.Response:
        """The decision id if the policy allows, else the refusal to send (see :func:`refusal`)."""
        decision, decision_id = await self._decide(facts, action, resource, context)
        if decision.allow:
            return decision_id
        return refusal(decision, decision_id)

    def _guarded(self, handler: Guarded) -> Callable[[web.Request], Awaitable[web.Response]]:
        """A route that first authenticates the caller (401/429 before any decision)."""

        async def route(request: web.Request) -> web.Response:
            found = self.guard.identify(request)
            if isinstance(found, web.Response):
                return found
            return await handler(request, *found)

        return route

    def _target(
        self, request: web.Request, identity: VerifiedIdentity, verb: str
    ) -> tuple[str, Resource, Action]:
        """(internal bank, policy resource, action) of a memory or profile route."""
        key = request.match_info.get("key")
        if request.path.startswith("/v1/profiles/"):
            resource = Resource(kind="profile", name=identity.agent_id, key=key)
            return profile_bank(identity.agent_id), resource, _ACTIONS["profile", verb]
        bank = request.match_info["bank"]
        return bank, Resource(kind="memory", name=bank, key=key), _ACTIONS["memory", verb]

    # -- memory ---------------------------------------------------------------------------
    async def _get(
        self, request: web.Request, identity: VerifiedIdentity, facts: AgentFacts
    ) -> web.Response:
        bank, resource, action = self._target(request, identity, "read")
        allowed = await self.allowed(facts, action, resource, PolicyContext())
        if isinstance(allowed, web.Response):
            return allowed
        item = self.memory.get(bank, request.match_info["key"])
        if item is None:
            message = f"{resource.name}/{resource.key} is not remembered"
            return error_answer(404, "not_found", message)
        return answer(item)

    async def _search(
        self, request: web.Request, _: VerifiedIdentity, facts: AgentFacts
    ) -> web.Response:
        bank = request.match_info["bank"]
        resource = Resource(kind="memory", name=bank)
        allowed = await self.allowed(facts, "memory.search", resource, PolicyContext())
        if isinstance(allowed, web.Response):
            return allowed
        query = MemorySearch.of_request(request)
        if isinstance(query, web.Response):
            return query
        # Bounded work per request: the query is cut, the answer capped.
        try:
            items = await self.memory.search(
                bank,
                query.q[:_MAX_QUERY_CHARS],
                scope=query.scope,
                limit=min(query.limit, 100),
                mode=query.mode,
            )
        except EmbeddingsNotConfigured as e:
            return error_answer(422, e.code, str(e), retryable=False)
        except EmbeddingsUnavailable as e:
            message = f"{e}; search with mode=bm25 meanwhile"
            return error_answer(503, e.code, message, retryable=True)
        return answer(MemorySearchResult(items=items))

    async def _put(
        self, request: web.Request, identity: VerifiedIdentity, facts: AgentFacts
    ) -> web.Response:
        body = await read_body(request, MemoryWrite, limit=MAX_VALUE_BYTES)
        if isinstance(body, web.Response):
            return body
        bank, resource, action = self._target(request, identity, "write")
        if resource.kind == "profile":
            invalid = refuse_untyped(self.policies.active, resource.key or "", body.value)
            if invalid is not None:
                return invalid
        if not declares(facts, resource):
            # No capability: ask the policy before spending any classification on the body.
            refused = await self.allowed(facts, action, resource, PolicyContext())
            if isinstance(refused, web.Response):
                return refused
        report = await self._classify(body, resource.key)  # before the policy sees the write
        allowed = await self.allowed(facts, action, resource, _pii_context(body, report))
        if isinstance(allowed, web.Response):
            return allowed
        provenance = Provenance(
            agent=identity.agent_id,
            version=identity.version,
            workflow_id=body.workflow_id,
            run_id=body.run_id,
            source_event=body.source_event,
            decision_id=allowed,
            policy_digest=self._digest(),
        )
        key = request.match_info["key"]
        try:
            item = await self.memory.put(
                bank, key, body.value, provenance, report.kinds, scope=body.scope
            )
        except MemoryTooLarge as e:
            return error_answer(413, e.code, str(e))
        return answer(item)

    async def _profile(
        self, request: web.Request, identity: VerifiedIdentity, facts: AgentFacts
    ) -> web.Response:
        """The caller's whole profile: one decision, one answer."""
        resource = Resource(kind="profile", name=identity.agent_id)
        allowed = await self.allowed(facts, "profile.read", resource, PolicyContext())
        if isinstance(allowed, web.Response):
            return allowed
        items = self.memory.bank(profile_bank(identity.agent_id))
        return answer(
            ProfileDocument(
                values={item.key: item.value for item in items},
                revisions={item.key: item.revision for item in items},
            )
        )

    async def _classify(self, body: MemoryWrite, key: str | None) -> PiiReport:
        metadata = (body.workflow_id, body.run_id, body.source_event)
        return await self.classify(body.value, key=key, metadata=metadata)

    async def classify(
        self, value: JsonValue, *, key: str | None = None, metadata: tuple[str | None, ...] = ()
    ) -> PiiReport:
        """Classify for PII (:func:`classify_write`): a small input on the event loop, a larger
        one in a worker thread, so other agents' requests are served meanwhile."""
        if scan_is_small([value, key, *metadata]):
            # A hop to a thread costs more than scanning a few hundred characters.
            return classify_write(value, key=key, metadata=metadata)
        async with self.classifying:
            return await asyncio.to_thread(classify_write, value, key=key, metadata=metadata)

    async def _delete(
        self, request: web.Request, identity: VerifiedIdentity, facts: AgentFacts
    ) -> web.Response:
        bank, resource, action = self._target(request, identity, "delete")
        where = MemoryDeletion.of_request(request)
        if isinstance(where, web.Response):
            return where
        context = PolicyContext(workflow_id=where.workflow_id, run_id=where.run_id)
        allowed = await self.allowed(facts, action, resource, context)
        if isinstance(allowed, web.Response):
            return allowed
        provenance = Provenance(
            agent=identity.agent_id,
            version=identity.version,
            workflow_id=where.workflow_id,
            run_id=where.run_id,
            source_event=where.source_event,
            decision_id=allowed,
            policy_digest=self._digest(),
        )
        deleted = await self.memory.delete(bank, request.match_info["key"], provenance)
        return answer(MemoryDeleted(deleted=deleted))

    # -- tools ----------------------------------------------------------------------------
    async def _invoke(
        self, request: web.Request, identity: VerifiedIdentity, facts: AgentFacts
    ) -> web.Response:
        body = await read_body(request, ToolInvocation, limit=MAX_VALUE_BYTES)
        if isinstance(body, web.Response):
            return body
        return await self.invoke_tool(request.match_info["name"], body, identity, facts)

    async def invoke_tool(
        self, name: str, body: ToolInvocation, identity: VerifiedIdentity, facts: AgentFacts
    ) -> web.Response:
        """The one governed tool call, for ``POST /v1/tools/{name}/invoke`` and MCP ``/mcp``.

        Both transports answer from this response, so a call is governed the same way
        whichever way the agent speaks.
        """
        if (definition := self.catalogue.served(name)) is not None:
            return await invoke_mcp_tool(self, definition, body, identity, facts)
        context = await tool_context(self, body, body.arguments)
        # Keys are scoped per agent: one agent can never read another's recorded results.
        key = f"{identity.agent_id}:{body.idempotency_key}"
        cleared = await clear_tool_call(
            self,
            identity=identity,
            facts=facts,
            resource=Resource(kind="tool", name=name),
            context=context,
            key=key,
        )
        if not isinstance(cleared, Cleared):
            return cleared  # denied, or parked for a person, or refused by one
        if name not in self.tools.specs:
            return error_answer(404, "tool_unknown", f"no tool {name!r} is registered")
        arguments = cleared.arguments
        try:
            entry, executed = await self.ledger.once(
                key, name, identity.agent_id, lambda: self.tools.call(name, arguments, key)
            )
        except ToolUnavailable as e:
            return error_answer(503, e.code, str(e), retryable=True)
        except ToolFailed as e:
            return error_answer(422, e.code, str(e), retryable=False)
        self.metrics.tool_called(name, executed)
        return answer(
            ToolResult(result=entry.result, executed=executed, decision_id=cleared.decision_id)
        )

    async def _approval(
        self, request: web.Request, identity: VerifiedIdentity, _: AgentFacts
    ) -> web.Response:
        return await approval_status(self, request, identity)

    # -- governed policy questions ----------------------------------------------------------
    async def _question(
        self, request: web.Request, _: VerifiedIdentity, facts: AgentFacts
    ) -> web.Response:
        """Ask ``data.longboat.<policy>.decision`` for an agent holding ``policy:<policy>``.

        The access itself is decided by the gateway policy like any other (capability, status,
        rate limit); one record on ``lb.decisions`` holds both that decision and the answer.
        """
        policy = request.match_info["policy"]
        problem = policy_name_problem(policy)
        if problem is not None:
            return error_answer(400, "invalid_request", problem)
        body = await read_body(request, PolicyQuestion, limit=MAX_VALUE_BYTES)
        if isinstance(body, web.Response):
            return body
        context = PolicyContext(workflow_id=body.workflow_id, run_id=body.run_id)
        policy_input = PolicyInput(
            agent=facts,
            action="policy.decide",
            resource=Resource(kind="policy", name=policy),
            context=context,
        )
        started = time.perf_counter()
        access, source = await self.engine.decide(policy_input)
        if not access.allow:
            decision_id = await self.log_decision(policy_input, access, source, started)
            return error_answer(
                403,
                "policy_denied",
                "; ".join(access.reasons),
                reasons=access.reasons,
                decision_id=decision_id,
            )
        document: dict[str, JsonValue] = {
            "agent": facts.model_dump(mode="json"),
            "input": body.input,
        }
        outcome = await self.engine.ask(policy, document)
        return await self._answered(policy_input, outcome, started)

    async def _answered(
        self, policy_input: PolicyInput, outcome: QuestionOutcome, started: float
    ) -> web.Response:
        policy = policy_input.resource.name
        if outcome.answer is None:
            status, code, reason, retryable = _UNANSWERED[outcome.problem or "undefined"]
            reason = reason.format(policy)
            refused = PolicyDecision(allow=False, reasons=[reason])
            await self.log_decision(policy_input, refused, outcome.source, started)
            return error_answer(status, code, reason, retryable=retryable)
        reasons = outcome.answer.get("reasons")
        shown = [r for r in reasons if isinstance(r, str)] if isinstance(reasons, list) else []
        answered = PolicyDecision(allow=True, reasons=shown)
        decision_id = await self.log_decision(
            policy_input, answered, outcome.source, started, answer=outcome.answer
        )
        return answer(
            PolicyAnswer(
                policy=policy,
                decision=outcome.answer,
                decision_id=decision_id,
                policy_digest=self.policies.active.digest if self.policies.active else None,
            )
        )
