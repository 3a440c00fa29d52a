"""Test your agent without Kafka: run its handler, inspect its steps, crash it and replay it.

The handler runs through the runtime's own run logic (``execute_run``) and the real
:class:`~longboat.agents.Context` and step journal semantics; only Kafka is replaced, by lists::

    from longboat.agents.testing import AgentTestEnvironment, InMemoryGateway

    env = AgentTestEnvironment(triage, gateway=InMemoryGateway())
    run = await env.run(Envelope(type="claims.submitted", source="/t", data={"amount": 5000}))
    assert run.value == {"label": "complex"}
    crashed = await env.run(event, crash_after_step=2)   # dies after its 2nd step completed
    replayed = await env.replay(crashed)                 # steps 1-2 return their recorded results

Steps are counted from 1 in the order the handler awaits them, ``ctx.now()``, ``ctx.uuid()``,
``ctx.llm()``, ``ctx.memory.*`` and ``ctx.tool()`` included. ``ctx.now()`` and ``ctx.uuid()`` are
deterministic here: a clock that starts at ``start`` and advances ``tick`` per call, and uuids
numbered from 1.
"""

from __future__ import annotations

import asyncio
import json
import uuid as _uuid
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import JsonValue

from longboat import Envelope, EnvelopeSerde, TopicNames
from longboat.agents._agent import Agent
from longboat.agents._context import Context, _StepCall
from longboat.agents._dlq import DeadLetter
from longboat.agents._faults import FaultPlan
from longboat.agents._governed import GatewayPort
from longboat.agents._journal import JournalRecord, RunHistory, StepState
from longboat.agents._metrics import AgentMetrics
from longboat.agents._options import AgentSettings
from longboat.agents._outputs import OutputRecord
from longboat.agents._run import execute_run
from longboat.agents._runtime_deps import RuntimeDeps
from longboat.agents._task import Task, TaskOutcome, task_event, task_outcome_of
from longboat.errors import UsageError
from longboat.gateway import PolicyDenied
from longboat.kafka import ConsumedRecord, RecordMetadata
from longboat.llm import LLMProvider, LLMRequest, LocalProvider

__all__ = [
    "AgentRun",
    "AgentTestEnvironment",
    "InMemoryGateway",
    "SimulatedCrash",
    "StepRecord",
]

Tool = Callable[[JsonValue], JsonValue | Awaitable[JsonValue]]
Policy = Callable[[JsonValue], Mapping[str, JsonValue]]


class SimulatedCrash(BaseException):
    """The process 'died' where the test asked (a BaseException: no handler swallows it)."""


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One step of a run: what was called, with what, and how it ended.

    ``status`` is ``completed``, ``failed``, ``started`` (in doubt: the run crashed inside it)
    or ``replayed`` (its recorded result was returned without running it).
    """

    index: int
    name: str
    fingerprint: str
    args: JsonValue
    result: JsonValue
    status: StepState | str
    attempts: int = 1
    error: str | None = None


@dataclass(frozen=True, slots=True)
class AgentRun:
    """What one run of the handler did."""

    event: Envelope
    record: ConsumedRecord
    steps: tuple[StepRecord, ...]
    emitted: Mapping[str, tuple[Envelope, ...]]
    task_result: TaskOutcome | None
    dead_letter: DeadLetter | None
    value: JsonValue
    error: BaseException | None
    crashed: bool
    executed_steps: int
    replayed_steps: int
    journal: tuple[JournalRecord, ...]

    def step(self, name: str) -> StepRecord:
        """The first step called ``name``.

        Raises:
            KeyError: No step has that name (the message lists the names).
        """
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"no step {name!r}; steps: {[s.name for s in self.steps]}")


class InMemoryGateway:
    """A stand-in for the policy gateway: memory banks, a profile, tools and deny rules.

    Args:
        memory: Initial banks, ``{bank: {key: value}}``.
        profile: The agent's initial profile.
        tools: Tool functions by name (sync or async, JSON in and out).
        policies: Answers to ``ctx.decide`` by policy name: a function of the question's input
            returning the decision document (the real gateway asks OPA).
        deny: Refused accesses, each ``action`` or ``action:resource``, e.g.
            ``"tool:payments"``, ``"memory.put:claims"``, ``"profile.get"``,
            ``"policy:moderation"``: they raise ``PolicyDenied`` as the gateway does.
    """

    def __init__(
        self,
        *,
        memory: Mapping[str, Mapping[str, JsonValue]] | None = None,
        profile: Mapping[str, JsonValue] | None = None,
        tools: Mapping[str, Tool] | None = None,
        policies: Mapping[str, Policy] | None = None,
        deny: Collection[str] = (),
    ) -> None:
        """Create the stand-in (see the class docstring)."""
        self.memory = {bank: dict(items) for bank, items in (memory or {}).items()}
        self.profile = dict(profile or {})
        self.tools = dict(tools or {})
        self.policies = dict(policies or {})
        self.questions: list[tuple[str, JsonValue]] = []  # every ctx.decide that was asked
        self.deny = frozenset(deny)
        self.ledger: dict[str, JsonValue] = {}
        self.tool_calls: list[tuple[str, JsonValue, str]] = []  # executed, not ledger hits
        self._revision = 0

    def _check(self, action: str, resource: str) -> None:
        if action in self.deny or f"{action}:{resource}" in self.deny:
            raise PolicyDenied([f"test rule denies {action} on {resource}"], "test")

    def _next_revision(self) -> int:
        self._revision += 1
        return self._revision

    async def memory_get(self, bank: str, key: str) -> JsonValue:
        """The remembered value, or None."""
        self._check("memory.get", bank)
        return self.memory.get(bank, {}).get(key)

    async def memory_put(self, bank: str, key: str, value: JsonValue, **context: str | None) -> int:
        """Remember ``value``; returns the revision."""
        self._check("memory.put", bank)
        self.memory.setdefault(bank, {})[key] = value
        return self._next_revision()

    async def memory_delete(self, bank: str, key: str, **context: str | None) -> bool:
        """Forget ``bank/key``; whether it existed (``context``: provenance, not kept here)."""
        self._check("memory.delete", bank)
        return self.memory.get(bank, {}).pop(key, None) is not None

    async def memory_search(
        self,
        bank: str,
        query: str,
        limit: int = 10,
        *,
        scope: str | None = None,
        mode: str | None = None,
    ) -> list[dict[str, Any]]:
        """Items whose key or value contains a word of ``query`` (every item for no words).

        Scopes and ranking modes are not modelled here: every item of the bank is searched
        by its words, whatever ``mode`` asks.
        """
        self._check("memory.search", bank)
        words = [w.lower() for w in query.split()]
        found = [
            {"bank": bank, "key": key, "value": value}
            for key, value in self.memory.get(bank, {}).items()
            if not words or any(w in f"{key} {json.dumps(value)}".lower() for w in words)
        ]
        return found[:limit]

    async def profile_get(self, key: str) -> JsonValue:
        """A value of the agent's profile, or None."""
        self._check("profile.get", key)
        return self.profile.get(key)

    async def profile_read(self) -> dict[str, JsonValue]:
        """The agent's whole profile (schemas are not modelled here)."""
        self._check("profile.get", "")
        return dict(self.profile)

    async def profile_put(self, key: str, value: JsonValue) -> int:
        """Set a value of the agent's profile."""
        self._check("profile.put", key)
        self.profile[key] = value
        return self._next_revision()

    async def invoke(
        self, tool: str, arguments: JsonValue, *, idempotency_key: str, **context: str | None
    ) -> dict[str, Any]:
        """Call ``tool`` once per idempotency key; a repeated key returns the recorded result."""
        self._check("tool", tool)
        if idempotency_key in self.ledger:
            return {"result": self.ledger[idempotency_key], "replayed": True}
        if tool not in self.tools:
            raise UsageError(f"InMemoryGateway has no tool {tool!r}: pass tools={{...}}")
        value = self.tools[tool](arguments)
        result: JsonValue = await value if asyncio.iscoroutine(value) else value  # type: ignore[assignment]
        self.tool_calls.append((tool, arguments, idempotency_key))
        self.ledger[idempotency_key] = result
        return {"result": result, "replayed": False}

    async def decide(
        self, policy: str, question: JsonValue, **context: str | None
    ) -> dict[str, Any]:
        """Answer ``ctx.decide`` with ``policies[policy](question)``."""
        self._check("policy", policy)
        if policy not in self.policies:
            raise UsageError(f"InMemoryGateway has no policy {policy!r}: pass policies={{...}}")
        self.questions.append((policy, question))
        decision = dict(self.policies[policy](question))
        return {"policy": policy, "decision": decision, "decision_id": "test"}

    async def model_complete(
        self, request: JsonValue, *, idempotency_key: str, **context: str | None
    ) -> dict[str, Any]:
        """Answer ``ctx.llm`` routed through the gateway with the local provider's answer."""
        asked = LLMRequest.model_validate(request)
        self._check("model", asked.model)
        response = await LocalProvider().complete(asked)
        return {
            "response": response.model_dump(mode="json"),
            "cost": 0.0,
            "decision_id": "test",
            "counted": True,
        }


@dataclass
class _Recorder:
    """What the test context saw during one run."""

    clock: Callable[[], str]
    uuids: Callable[[], str]
    crash_after_step: int | None
    crash_in_step: int | None
    steps: dict[int, StepRecord] = field(default_factory=dict)
    args: dict[int, JsonValue] = field(default_factory=dict)
    journal: list[JournalRecord] = field(default_factory=list)
    value: JsonValue = None
    error: BaseException | None = None

    async def write_journal(self, record: JournalRecord) -> asyncio.Future[RecordMetadata]:
        self.journal.append(record)
        done: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
        done.set_result(RecordMetadata("journal", 0, len(self.journal) - 1))
        return done


class _CrashPlan(FaultPlan):
    """Raises :class:`SimulatedCrash` inside step k: it ran, its completion is not journalled."""

    def __init__(self, recorder: _Recorder) -> None:
        super().__init__()
        self._recorder = recorder

    def reached(self, point: str) -> None:
        if point != "step.after_run" or self._recorder.crash_in_step is None:
            return
        # Steps are recorded from index 0 as they begin: the running step is the last one.
        if len(self._recorder.steps) == self._recorder.crash_in_step:
            raise SimulatedCrash(f"crashed inside step {self._recorder.crash_in_step}")


def _context_type(recorder: _Recorder) -> type[Context]:
    """The real Context, observed: arguments, outcomes and replays of each step recorded."""

    class TestContext(Context):
        def _begin(self, name: str, args_json: str) -> _StepCall:
            call = super()._begin(name, args_json)
            recorder.args[call.index] = json.loads(args_json)
            recorder.steps[call.index] = StepRecord(
                call.index + 1, name, call.fp, recorder.args[call.index], None, "started"
            )
            return call

        def _prior(self, call: _StepCall) -> JournalRecord | None:
            prior = super()._prior(call)
            if prior is not None and prior.state == "completed":
                recorder.steps[call.index] = StepRecord(
                    call.index + 1, call.name, call.fp, recorder.args[call.index], prior.result,
                    "replayed", prior.attempt,
                )  # fmt: skip
            return prior

        async def _recorded(self, name: str, produce: Callable[[], JsonValue]) -> JsonValue:
            fixed: dict[str, Callable[[], JsonValue]] = {
                "longboat.now": recorder.clock,
                "longboat.uuid": recorder.uuids,
            }
            return await super()._recorded(name, fixed.get(name, produce))

        async def _append(self, record: JournalRecord, *, wait: bool) -> None:
            await super()._append(record, wait=wait)
            step = record.index
            recorder.steps[step] = StepRecord(
                step + 1, record.name, record.fp, recorder.args[step], record.result,
                record.state, record.attempt, record.error,
            )  # fmt: skip
            if record.state == "completed" and step + 1 == recorder.crash_after_step:
                raise SimulatedCrash(f"crashed after step {step + 1} completed")

    return TestContext


class AgentTestEnvironment:
    """Runs one agent's handler in this process, against lists instead of Kafka.

    Args:
        agent: The agent under test (its durability and retry policy apply).
        gateway: What ``ctx.memory`` and ``ctx.tool`` talk to (e.g. :class:`InMemoryGateway`,
            or a ``GatewayClient`` of a running gateway).
        llm: The LLM provider (default: the deterministic offline ``LocalProvider``).
        start: The first instant ``ctx.now()`` returns.
        tick: How far the clock advances per ``ctx.now()``.
        topic_prefix: The system topics' prefix (results, progress, dead letters).
    """

    def __init__(
        self,
        agent: Agent,
        *,
        gateway: GatewayPort | None = None,
        llm: LLMProvider | None = None,
        start: datetime = datetime(2025, 1, 1, tzinfo=UTC),
        tick: timedelta = timedelta(seconds=1),
        topic_prefix: str = "lb.",
    ) -> None:
        """Create the environment (see the class docstring)."""
        self.agent = agent
        self.gateway = gateway
        self.names = TopicNames(topic_prefix)
        self._llm = llm or LocalProvider()
        self._start, self._tick = start, tick
        self._ticks = 0
        self._uuids = 0
        self._offset = 0
        self._serde = EnvelopeSerde()
        self._settings = AgentSettings(topic_prefix=topic_prefix)

    def _now(self) -> str:
        self._ticks += 1
        return (self._start + self._tick * (self._ticks - 1)).isoformat()

    def _uuid(self) -> str:
        self._uuids += 1
        return str(_uuid.UUID(int=self._uuids))

    def _input(
        self, item: Envelope | Task, topic: str | None, workflow_id: str
    ) -> tuple[str, Envelope]:
        if isinstance(item, Task):
            if not self.agent.tasks:
                raise UsageError(f"agent {self.agent.name} has tasks=False: it takes no tasks")
            return self.names.tasks(self.agent.name), task_event(workflow_id, item)
        if topic is not None:
            return topic, item
        if self.agent.topics:
            return self.agent.topics[0], item
        return self.names.tasks(self.agent.name), item

    async def run(
        self,
        item: Envelope | Task,
        *,
        topic: str | None = None,
        key: str | None = None,
        workflow_id: str = "wf-test",
        crash_after_step: int | None = None,
        crash_in_step: int | None = None,
    ) -> AgentRun:
        """Run the handler once on ``item`` (an event, or a coordinator task).

        Args:
            item: The input event, or a :class:`~longboat.agents.Task` (sent as the coordinator
                sends it, with ``workflow_id``).
            topic: The input topic (default: the agent's first topic, or its task topic).
            key: The record key.
            workflow_id: The workflow a task belongs to.
            crash_after_step: Die right after step k completed (its result is journalled,
                except with ``durability="exit"``).
            crash_in_step: Die inside step k, after its function ran and before its completion
                was journalled: on replay the step is in doubt.
        """
        source, event = self._input(item, topic, workflow_id)
        encoded = self._serde.encode(event)
        record = ConsumedRecord(
            source,
            0,
            self._offset,
            key.encode() if key is not None else None,
            encoded.value,
            encoded.headers,
            0,
        )
        self._offset += 1
        return await self._execute(record, event, RunHistory(), crash_after_step, crash_in_step)

    async def replay(
        self,
        previous: AgentRun,
        *,
        crash_after_step: int | None = None,
        crash_in_step: int | None = None,
    ) -> AgentRun:
        """Run the same record again against ``previous``'s journal, as after a restart."""
        history = RunHistory()
        for n, record in enumerate(previous.journal):
            history.add(record, n)
        return await self._execute(
            previous.record, previous.event, history, crash_after_step, crash_in_step
        )

    async def _execute(
        self,
        record: ConsumedRecord,
        event: Envelope,
        history: RunHistory,
        crash_after_step: int | None,
        crash_in_step: int | None,
    ) -> AgentRun:
        recorder = _Recorder(self._now, self._uuid, crash_after_step, crash_in_step)
        # The journal of a replay continues the previous one, as the real journal topic does.
        recorder.journal.extend(r for r in history.steps.values())
        deps = RuntimeDeps(
            agent=self._observed(recorder),
            settings=self._settings,
            names=self.names,
            group_id=self.agent.group_id(self.names),
            serde=self._serde,
            journal=None,
            llm=self._llm,
            metrics=AgentMetrics(),
            faults=_CrashPlan(recorder),
            gateway=self.gateway,
        )
        crashed = False
        try:
            outcome = await execute_run(
                deps,
                record,
                history,
                recorder.write_journal,
                context_type=_context_type(recorder),
            )
            outputs = outcome.outputs
        except SimulatedCrash as e:
            crashed, outputs = True, []  # nothing the run produced was committed
            recorder.error = e
        return self._result(record, event, recorder, outputs, crashed)

    def _observed(self, recorder: _Recorder) -> Agent:
        """The agent with its handler wrapped, so the test sees its return value or error."""
        handle = self.agent.handle

        async def observed(ctx: Context, event: Envelope) -> JsonValue:
            try:
                recorder.value = await handle(ctx, event)
            except Exception as e:
                recorder.error = e
                raise
            return recorder.value

        return Agent(
            self.agent.name,
            topics=self.agent.topics,
            tasks=self.agent.tasks,
            durability=self.agent.durability,
            max_in_flight=self.agent.max_in_flight,
            retry=self.agent.retry,
            version=self.agent.version,
            handler=observed,
        )

    def _result(
        self,
        record: ConsumedRecord,
        event: Envelope,
        recorder: _Recorder,
        outputs: list[OutputRecord],
        crashed: bool,
    ) -> AgentRun:
        emitted: dict[str, list[Envelope]] = {}
        task_result: TaskOutcome | None = None
        dead_letter: DeadLetter | None = None
        for output in outputs:
            out = self._serde.decode(output.value, output.headers)
            if output.topic == self.names.results:
                task_result = task_outcome_of(out)
            elif output.topic == self.names.dlq(self.agent.name):
                dead_letter = DeadLetter.model_validate(out.data)
            elif output.topic != self.names.progress:
                emitted.setdefault(output.topic, []).append(out)
        steps = tuple(recorder.steps[i] for i in sorted(recorder.steps))
        return AgentRun(
            event=event,
            record=record,
            steps=steps,
            emitted={topic: tuple(events) for topic, events in emitted.items()},
            task_result=task_result,
            dead_letter=dead_letter,
            value=recorder.value,
            error=recorder.error,
            crashed=crashed,
            executed_steps=sum(1 for s in steps if s.status == "completed"),
            replayed_steps=sum(1 for s in steps if s.status == "replayed"),
            journal=tuple(recorder.journal),
        )
