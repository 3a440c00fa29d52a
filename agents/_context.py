"""The handler's ``ctx``: durable steps, deterministic helpers, LLM calls and buffered emits."""

from __future__ import annotations

import asyncio
import json
import random as _random
import time
import uuid as _uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, TypeVar, overload

from pydantic import JsonValue

from longboat import Envelope, EnvelopeSerde, annotate, get_logger
from longboat.agents._faults import FaultPlan
from longboat.agents._governed import (
    GatewayPort,
    MemoryAccess,
    ask_policy,
    call_tool,
    complete_via_gateway,
)
from longboat.agents._identity import canonical_json, step_fingerprint
from longboat.agents._journal import (
    ARGS_LIMIT,
    JournalRecord,
    JournalUnavailable,
    RunHistory,
    StepState,
    new_record,
)
from longboat.agents._metrics import AgentMetrics
from longboat.agents._options import Durability, RetryPolicy
from longboat.agents._outputs import OutputRecord, output_of
from longboat.agents._step_spans import finish_step_span, step_span
from longboat.agents._task import Task, task_of
from longboat.errors import LongboatError, TerminalError, UsageError
from longboat.kafka import ConsumedRecord, RecordMetadata
from longboat.llm import LLMMessage, LLMProvider, LLMRequest, LLMResponse

__all__ = [
    "NOT_FOUND",
    "Context",
    "NotFound",
    "Reconcile",
    "RunScope",
    "StepFailed",
    "is_retryable",
]

_log = get_logger("agents.step")
T = TypeVar("T")


class NotFound:
    """What a ``reconcile`` hook returns when the provider has no record of the call."""

    _instance: NotFound | None = None

    def __new__(cls) -> NotFound:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOT_FOUND"


NOT_FOUND: Final = NotFound()
Reconcile = Callable[[str], Awaitable[JsonValue | NotFound]]
JournalWriter = Callable[[JournalRecord], Awaitable["asyncio.Future[RecordMetadata]"]]


class StepFailed(TerminalError):
    """A step raised a terminal error, or a retryable one on every attempt."""

    code = "step_failed"

    def __init__(self, step: str, attempts: int, cause: BaseException) -> None:
        """Record which step failed, after how many attempts, and why."""
        super().__init__(
            f"step {step!r} failed after {attempts} attempt(s): {type(cause).__name__}: {cause}"
        )
        self.step = step
        self.attempts = attempts
        self.cause_type = type(cause).__name__


def is_retryable(error: BaseException) -> bool:
    """Longboat errors say so themselves; timeouts and connection errors are transient."""
    flag = getattr(error, "retryable", None)
    if isinstance(flag, bool):
        return flag
    return isinstance(error, TimeoutError | ConnectionError)


@dataclass
class RunScope:
    """The run a context belongs to."""

    agent: str
    run_id: str
    record: ConsumedRecord
    event: Envelope
    history: RunHistory = field(default_factory=RunHistory)
    version: str | None = None


@dataclass
class _StepCall:
    index: int
    name: str
    fp: str
    args_json: str = "[]"
    decision_id: str | None = None


class Context:
    """What a handler gets: ``await ctx.step(...)``, ``ctx.llm(...)``, ``ctx.emit(...)``, ...

    Steps of one run must be awaited one at a time: their order defines their fingerprints.
    """

    def __init__(
        self,
        scope: RunScope,
        *,
        durability: Durability,
        write_journal: JournalWriter,
        retry: RetryPolicy,
        llm: LLMProvider,
        llm_model: str,
        serde: EnvelopeSerde,
        faults: FaultPlan,
        metrics: AgentMetrics,
        gateway: GatewayPort | None = None,
        llm_via_gateway: bool = False,
    ) -> None:
        """Create the context of one run (the runtime does this).

        ``llm_via_gateway``: ``ctx.llm`` calls ``POST /v1/models/complete`` (policy, budgets,
        accounting) with the step's fingerprint as idempotency key, instead of ``llm``.
        """
        self._scope = scope
        self._durability = durability
        self._write_journal = write_journal
        self._retry = retry
        self._llm = llm
        self._llm_model = llm_model
        self._serde = serde
        self._faults = faults
        self._metrics = metrics
        self._gateway = gateway
        self._llm_via_gateway = llm_via_gateway
        self.memory = MemoryAccess(self, gateway)
        self._previous_fp = scope.run_id
        self._next_index = 0
        self._current: _StepCall | None = None
        self._diverged = False
        self._outputs: list[OutputRecord] = []
        self._task: tuple[Task | None] | None = None
        self.replayed_steps = 0
        self.executed_steps = 0

    @property
    def agent(self) -> str:
        """The agent's name."""
        return self._scope.agent

    @property
    def run_id(self) -> str:
        """This run's id (stable across replays of the same record)."""
        return self._scope.run_id

    @property
    def event(self) -> Envelope:
        """The event being processed."""
        return self._scope.event

    @property
    def task(self) -> Task | None:
        """The coordinator task this run works on, or None when the input is not a task.

        Raises:
            EventError: The input says it is a task (type ``longboat.task``) but is not one;
                the run is dead-lettered with the reason.
        """
        if self._task is None:
            self._task = (task_of(self._scope.event),)
        return self._task[0]

    @property
    def record(self) -> ConsumedRecord:
        """The Kafka record being processed (topic, partition, offset, key)."""
        return self._scope.record

    @property
    def idempotency_key(self) -> str:
        """The running step's fingerprint; pass it to providers that deduplicate.

        Raises:
            UsageError: Called outside a step.
        """
        if self._current is None:
            raise UsageError("ctx.idempotency_key is only defined inside a running step")
        return self._current.fp

    @property
    def outputs(self) -> list[OutputRecord]:
        """Records emitted so far (written in the run's checkpoint transaction)."""
        return list(self._outputs)

    def note_decision(self, decision_id: str | None) -> None:
        """Record the gateway decision behind the running governed step (shown by traces)."""
        if self._current is not None:
            self._current.decision_id = decision_id

    async def tool(self, name: str, arguments: JsonValue = None) -> JsonValue:
        """Invoke a registered tool through the gateway (policy-checked, once per step key)."""
        return await call_tool(self, self._gateway, name, arguments)

    async def decide(self, policy: str, question: JsonValue = None) -> dict[str, JsonValue]:
        """Ask the governed policy ``policy`` (capability ``policy:<policy>``), as a step.

        The gateway asks OPA for ``data.longboat.<policy>.decision`` with ``{agent, input}``
        and logs the answer to ``lb.decisions``; a replay returns the recorded decision.
        Published policy changes apply to the next question, without a restart.

        Raises:
            StepFailed: The access was denied (``PolicyDenied``) or no policy answers.
        """
        return await ask_policy(self, self._gateway, policy, question)

    def emit(
        self,
        topic: str,
        event: Envelope,
        *,
        key: str | bytes | None = None,
        partition: int | None = None,
    ) -> None:
        """Buffer ``event`` for ``topic``; it is written exactly once, with the input's offset.

        Args:
            topic: Where to write it.
            event: The event (``ctx.event.caused(...)`` keeps the workflow and trace).
            key: Record key; default the workflow id, else the input record's key.
            partition: An explicit partition (default: by key).
        """
        raw_key = key.encode() if isinstance(key, str) else key
        if raw_key is None:
            raw_key = event.workflowid.encode() if event.workflowid else self.record.key
        self._outputs.append(output_of(self._serde, topic, event, raw_key, partition))

    async def now(self) -> datetime:
        """The current UTC time, recorded: a replay sees the same instant."""
        value = await self._recorded("longboat.now", lambda: datetime.now(UTC).isoformat())
        return datetime.fromisoformat(str(value))

    async def uuid(self) -> str:
        """A random UUID, recorded."""
        return str(await self._recorded("longboat.uuid", lambda: str(_uuid.uuid4())))

    async def random(self) -> float:
        """A random float in [0, 1), recorded."""
        value = await self._recorded("longboat.random", _random.random)
        return float(value)  # type: ignore[arg-type]

    async def llm(
        self,
        prompt: str | None = None,
        *,
        messages: list[LLMMessage] | None = None,
        system: str | None = None,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        retry: RetryPolicy | None = None,
    ) -> LLMResponse:
        """One chat completion as a recorded step (a replay returns the recorded answer).

        Through the gateway (a fleet's default) a spent budget raises ``StepFailed`` at once
        (``BudgetExceeded`` is terminal: retrying cannot help until the window turns).
        """
        chat = list(messages or [])
        if system is not None:
            chat.insert(0, LLMMessage(role="system", content=system))
        if prompt is not None:
            chat.append(LLMMessage(role="user", content=prompt))
        request = LLMRequest(
            model=model or self._llm_model,
            messages=tuple(chat),
            temperature=temperature,
            max_tokens=max_tokens,
        )

        async def call(body: JsonValue) -> JsonValue:
            annotate({"gen_ai.provider.name": self._llm_provider_name()})
            if self._llm_via_gateway:
                return await complete_via_gateway(self, self._gateway, body)
            answer = await self._llm.complete(LLMRequest.model_validate(body))
            return answer.model_dump(mode="json")

        result: JsonValue = await self.step(
            "longboat.llm", call, request.model_dump(mode="json"), retry=retry
        )
        return LLMResponse.model_validate(result)

    def _llm_provider_name(self) -> str:
        """``gen_ai.provider.name`` of ``ctx.llm`` spans: the gateway, or the direct provider."""
        if self._llm_via_gateway:
            return "longboat.gateway"
        return str(getattr(self._llm, "provider_name", type(self._llm).__name__))

    @overload
    async def step(
        self,
        name: str,
        fn: Callable[..., Awaitable[T]],
        *args: Any,
        retry: RetryPolicy | None = None,
        reconcile: Reconcile | None = None,
    ) -> T: ...

    @overload
    async def step(
        self,
        name: str,
        fn: Callable[..., T],
        *args: Any,
        retry: RetryPolicy | None = None,
        reconcile: Reconcile | None = None,
    ) -> T: ...

    async def step(
        self,
        name: str,
        fn: Callable[..., Any],
        *args: Any,
        retry: RetryPolicy | None = None,
        reconcile: Reconcile | None = None,
    ) -> Any:
        """Run ``fn(*args)`` once per run, durably; a replay returns the recorded result.

        Args:
            name: The step's name (part of its fingerprint).
            fn: A function or coroutine function; its result must be a JSON value.
            args: JSON-serialisable arguments (part of the fingerprint).
            retry: Overrides the agent's retry policy for this step.
            reconcile: Asked with the idempotency key when the step is in doubt (started, never
                completed); return the provider's recorded result, or ``NOT_FOUND`` to re-run.

        Raises:
            StepFailed: Every attempt failed, or a terminal error was raised.
        """
        call = self._begin(name, canonical_json(list(args)))
        with step_span(self.run_id, call.index, name, args) as span:
            try:
                replayed = self.replayed_steps
                result = await self._settle(call, fn, args, retry, reconcile)
                finish_step_span(
                    span,
                    name,
                    result,
                    replayed=self.replayed_steps > replayed,
                    decision_id=call.decision_id,
                )
                return result
            finally:
                self._current = None

    async def _settle(
        self,
        call: _StepCall,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        retry: RetryPolicy | None,
        reconcile: Reconcile | None,
    ) -> Any:
        """The step's result: recorded, reconciled, or run (the body of :meth:`step`)."""
        name = call.name
        prior = self._prior(call)
        if prior is not None and prior.state == "completed":
            self.replayed_steps += 1
            return prior.result
        if prior is not None and reconcile is not None:
            found = await reconcile(call.fp)
            if not isinstance(found, NotFound):
                await self._journal(call, "completed", result=found, wait=True)
                _log.info("step_reconciled", step=name, run_id=self.run_id)
                return found
        if prior is not None:
            _log.warning("step_in_doubt", step=name, run_id=self.run_id, decision="rerun")
        return await self._execute(call, fn, args, retry or self._retry)

    def _begin(self, name: str, args_json: str) -> _StepCall:
        if self._current is not None:
            raise UsageError(
                f"step {name!r} started while step {self._current.name!r} is running: "
                "await the steps of one run one at a time (their order is their identity)"
            )
        fp = step_fingerprint(name, args_json, self._previous_fp)
        self._previous_fp = fp
        call = _StepCall(self._next_index, name, fp, args_json)
        self._next_index += 1
        self._current = call
        return call

    def _prior(self, call: _StepCall) -> JournalRecord | None:
        if self._diverged:
            return None
        prior = self._scope.history.steps.get(call.index)
        if prior is None:
            return None
        if prior.fp != call.fp:
            # The code or its inputs changed since the journal was written: from here on
            # nothing recorded can be trusted to mean the same call, so everything runs anew.
            self._diverged = True
            _log.warning(
                "replay_diverged",
                run_id=self.run_id,
                step=call.name,
                index=call.index,
                journalled_step=prior.name,
            )
            return None
        return prior

    async def _execute(
        self, call: _StepCall, fn: Callable[..., Any], args: tuple[Any, ...], retry: RetryPolicy
    ) -> JsonValue:
        for attempt in range(1, retry.max_attempts + 1):
            await self._journal(
                call, "started", attempt=attempt, wait=self._durability is Durability.SYNC
            )
            started = time.perf_counter()
            try:
                value = fn(*args)
                if asyncio.iscoroutine(value):
                    value = await value
                result: JsonValue = json.loads(canonical_json(value))
            except Exception as e:
                self._metrics.step_finished(
                    self.agent, call.name, time.perf_counter() - started, "error"
                )
                if not is_retryable(e) or attempt == retry.max_attempts:
                    await self._journal(
                        call,
                        "failed",
                        attempt=attempt,
                        error=f"{type(e).__name__}: {e}",
                        duration_s=time.perf_counter() - started,
                    )
                    raise StepFailed(call.name, attempt, e) from e
                self._metrics.step_retried(self.agent, call.name)
                _log.info(
                    "step_retried",
                    step=call.name,
                    run_id=self.run_id,
                    attempt=attempt,
                    error_type=type(e).__name__,
                )
                await asyncio.sleep(retry.backoff_s(attempt))
                continue
            duration = time.perf_counter() - started
            self._metrics.step_finished(self.agent, call.name, duration, "ok")
            self._faults.reached("step.after_run")
            await self._journal(
                call,
                "completed",
                result=result,
                attempt=attempt,
                wait=self._durability is Durability.SYNC,
                duration_s=duration,
            )
            self.executed_steps += 1
            return result
        raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover

    async def _recorded(self, name: str, produce: Callable[[], JsonValue]) -> JsonValue:
        """A recorded value with no side effect: journalled without waiting for the ack.

        Not waiting is safe: journal records of one input partition share a journal partition,
        so any later acknowledged record (e.g. a side-effecting step's) implies this one.
        """
        call = self._begin(name, "[]")
        try:
            prior = self._prior(call)
            if prior is not None and prior.state == "completed":
                self.replayed_steps += 1
                return prior.result
            value = produce()
            await self._journal(call, "completed", result=value)
            return value
        finally:
            self._current = None

    async def _journal(
        self,
        call: _StepCall,
        state: StepState,
        *,
        wait: bool = False,
        result: JsonValue = None,
        error: str | None = None,
        attempt: int = 1,
        duration_s: float | None = None,
    ) -> None:
        # Built under EXIT too: the test environment observes each step through _append.
        record = new_record(
            state,
            agent=self.agent,
            run_id=self.run_id,
            topic=self.record.topic,
            partition=self.record.partition,
            offset=self.record.offset,
            index=call.index,
            name=call.name,
            fp=call.fp,
            result=result,
            error=error,
            attempt=attempt,
            args=call.args_json if len(call.args_json) <= ARGS_LIMIT else None,
            duration_ms=None if duration_s is None else round(duration_s * 1000, 3),
            version=self._scope.version,
            workflow_id=self.event.workflowid,
            decision_id=call.decision_id,
        )
        await self._append(record, wait=wait)

    async def _append(self, record: JournalRecord, *, wait: bool) -> None:
        """Write one step record to the journal (none under ``EXIT``); ``wait`` for its ack."""
        if self._durability is Durability.EXIT:
            return
        future = await self._write_journal(record)
        if wait:
            try:
                await future
            except LongboatError as e:
                raise JournalUnavailable(
                    f"the step journal did not acknowledge a record: {e}"
                ) from e
