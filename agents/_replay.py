"""Offline replay: run a handler against a trace, every recorded step served from the trace.

No Kafka, no gateway, no LLM: the handler runs through the runtime's own ``execute_run`` with
a context that returns each recorded step's result. The first step whose fingerprint differs
from the trace is the *divergence* (reported with the arguments that changed); the first step
the trace cannot serve stops the replay (reported as what the new code would do next), unless
``live`` is set. Live steps still never call a tool or write memory unless explicitly allowed:
a replay must not have side effects by accident.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, JsonValue

from longboat import Envelope, EnvelopeSerde, TopicNames
from longboat.agents._agent import Agent
from longboat.agents._context import Context, _StepCall
from longboat.agents._dlq import DeadLetter
from longboat.agents._faults import FaultPlan
from longboat.agents._fork_chain import ForkChain
from longboat.agents._governed import GatewayPort
from longboat.agents._journal import JournalRecord
from longboat.agents._metrics import AgentMetrics
from longboat.agents._options import AgentSettings
from longboat.agents._outputs import OutputRecord
from longboat.agents._replay_gateway import ReplayGateway, ReplayRefused
from longboat.agents._run import execute_run
from longboat.agents._runtime_deps import RuntimeDeps
from longboat.agents._trace import LLM_STEP, Trace, TraceStep
from longboat.errors import UsageError
from longboat.kafka import ConsumedRecord, RecordMetadata
from longboat.llm import LLMProvider, LLMRequest, LLMResponse, provider_from_settings

__all__ = [
    "ArgumentChange",
    "CalledStep",
    "Divergence",
    "NextStep",
    "ReplayRefused",
    "ReplayReport",
    "replay_trace",
]


class ArgumentChange(BaseModel):
    """One argument that differs: where (``$[0].amount``), the recorded and the new value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    recorded: JsonValue = None
    new: JsonValue = None


class Divergence(BaseModel):
    """The first step whose fingerprint differs from the trace."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: int
    recorded_name: str
    new_name: str
    recorded_fingerprint: str
    new_fingerprint: str
    changes: tuple[ArgumentChange, ...] = ()
    args_recorded: bool = True


class NextStep(BaseModel):
    """The step the trace could not serve: what the new code would do next."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: int
    name: str
    args: JsonValue = None
    reason: Literal["diverged", "beyond_trace", "recorded_failed", "recorded_in_doubt"]


class Emitted(BaseModel):
    """An output the replayed run would write (never written)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: str
    type: str
    data: JsonValue = None


class CalledStep(BaseModel):
    """A step the replayed code asked for: its name and arguments."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    args: JsonValue = None


class ReplayReport(BaseModel):
    """What a replay found."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str
    agent: str
    served: int
    executed: int
    outcome: Literal["completed", "dead_lettered", "stopped"]
    divergence: Divergence | None = None
    next_step: NextStep | None = None
    value: JsonValue = None
    error: str | None = None
    emitted: tuple[Emitted, ...] = ()
    refused: tuple[str, ...] = ()
    steps: tuple[CalledStep, ...] = ()  # the steps the new code asked for, in order

    @property
    def clean(self) -> bool:
        """No divergence, and no step the recorded run did not reach.

        Stopping at a step the recording ended on (failed or in doubt) is not a divergence:
        the new code asks for the same call the old one made.
        """
        if self.divergence is not None:
            return False
        return self.next_step is None or self.next_step.reason in (
            "recorded_failed",
            "recorded_in_doubt",
        )


# Governed steps go through the (refusing) gateway port: a shadow records them as intents there.
_GOVERNED = (
    "longboat.tool",
    "longboat.decide",
    "longboat.memory.get",
    "longboat.memory.put",
    "longboat.memory.delete",
    "longboat.memory.search",
    "longboat.profile.get",
    "longboat.profile.read",
    "longboat.profile.put",
)


class _Stop(BaseException):
    """The trace cannot serve the next step and the replay is not live (not an app error)."""

    def __init__(self, step: NextStep) -> None:
        super().__init__(step.name)
        self.step = step


@dataclass
class _ReplayState:
    recorded: dict[int, TraceStep]
    live: bool
    only_llm: bool = False
    intents: list[str] = field(default_factory=list)
    served: int = 0
    executed: int = 0
    divergence: Divergence | None = None
    args: dict[int, JsonValue] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)


def argument_changes(recorded: JsonValue, new: JsonValue, path: str = "$") -> list[ArgumentChange]:
    """Where two JSON values differ, as paths (recursing into objects and arrays)."""
    if isinstance(recorded, dict) and isinstance(new, dict):
        changes: list[ArgumentChange] = []
        for key in sorted(recorded.keys() | new.keys()):
            changes += argument_changes(recorded.get(key), new.get(key), f"{path}.{key}")
        return changes
    if isinstance(recorded, list) and isinstance(new, list) and len(recorded) == len(new):
        return [c for i, (a, b) in enumerate(zip(recorded, new, strict=True))
                for c in argument_changes(a, b, f"{path}[{i}]")]  # fmt: skip
    if json.dumps(recorded, sort_keys=True) == json.dumps(new, sort_keys=True):
        return []
    return [ArgumentChange(path=path, recorded=recorded, new=new)]


def _divergence(recorded: TraceStep, call: _StepCall, new_args: JsonValue) -> Divergence:
    changes: list[ArgumentChange] = []
    if recorded.args_recorded:
        changes = argument_changes(recorded.args, new_args)
    return Divergence(
        step=call.index + 1,
        recorded_name=recorded.name,
        new_name=call.name,
        recorded_fingerprint=recorded.fingerprint,
        new_fingerprint=call.fp,
        changes=tuple(changes),
        args_recorded=recorded.args_recorded,
    )


def _next_step(state: _ReplayState, call: _StepCall) -> NextStep:
    recorded = state.recorded.get(call.index)
    reason: Literal["diverged", "beyond_trace", "recorded_failed", "recorded_in_doubt"]
    if state.divergence is not None:
        reason = "diverged"
    elif recorded is None:
        reason = "beyond_trace"
    else:
        reason = "recorded_failed" if recorded.status == "failed" else "recorded_in_doubt"
    return NextStep(step=call.index + 1, name=call.name, args=state.args[call.index], reason=reason)


def _context_type(state: _ReplayState, chain: ForkChain | None) -> type[Context]:
    class ReplayContext(Context):
        def _begin(self, name: str, args_json: str) -> _StepCall:
            if chain is not None and self._current is None:
                # A fork's trace: chain as the fork did, or its step N would look diverged.
                self._previous_fp = chain.previous(self._next_index, self._previous_fp)
            call = super()._begin(name, args_json)
            state.args[call.index] = json.loads(args_json)
            state.names[call.index] = call.name
            return call

        def _prior(self, call: _StepCall) -> JournalRecord | None:
            # Not super()._prior: a replay reports the divergence instead of logging it.
            prior = None if self._diverged else self._scope.history.steps.get(call.index)
            if prior is not None and prior.fp != call.fp:
                self._diverged = True
                state.divergence = _divergence(
                    state.recorded[call.index], call, state.args[call.index]
                )
                prior = None
            if prior is not None and prior.state == "completed":
                state.served += 1
                return prior
            if not state.live:
                raise _Stop(_next_step(state, call))
            if state.only_llm and call.name not in (LLM_STEP, *_GOVERNED):
                # A shadow run executes no step of the user's own: it may have side effects.
                state.intents.append(f"step:{call.name}")
                raise ReplayRefused(f"step {call.name}: a shadow run executes no new step")
            state.executed += 1
            return None  # a live replay runs the step anew; nothing recorded is in doubt here

    return ReplayContext


class _RefusingLLM:
    async def complete(self, request: LLMRequest) -> LLMResponse:
        raise ReplayRefused("an offline replay calls no LLM: pass --live to run new LLM steps")

    async def close(self) -> None:
        """Nothing to release."""


async def _discard(record: JournalRecord) -> Any:
    # A replay's journal goes nowhere: it must leave no trace on the cluster it came from.
    import asyncio

    done: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
    done.set_result(RecordMetadata("replay", 0, 0))
    return done


def replay_input(trace: Trace, serde: EnvelopeSerde) -> ConsumedRecord:
    """The trace's input record, rebuilt from its header (the event and its coordinates)."""
    h = trace.header
    if h.event is None:
        raise UsageError(
            f"run {h.run_id}: the trace has no input event (it was gone from "
            f"{h.topic}/{h.partition}@{h.offset} when exported): it cannot be replayed"
        )
    encoded = serde.encode(h.event)
    key = h.key.encode() if h.key is not None else None
    return ConsumedRecord(h.topic, h.partition, h.offset, key, encoded.value, encoded.headers, 0)


def _emitted(
    outputs: Sequence[OutputRecord], serde: EnvelopeSerde, skip: set[str]
) -> list[Emitted]:
    found = []
    for output in outputs:
        if output.topic in skip:
            continue
        event = serde.decode(output.value, output.headers)
        found.append(Emitted(topic=output.topic, type=event.type, data=event.data))
    return found


async def replay_trace(
    agent: Agent,
    trace: Trace,
    *,
    live: bool = False,
    allow_tools: bool = False,
    allow_memory_writes: bool = False,
    llm: LLMProvider | None = None,
    gateway: GatewayPort | None = None,
    only_llm: bool = False,
    outputs: list[OutputRecord] | None = None,
) -> ReplayReport:
    """Run ``agent``'s handler on ``trace``'s input with its recorded steps served.

    Args:
        agent: The (new) code to check.
        trace: The recorded run.
        live: Run steps the trace cannot serve (LLM through ``llm``, governed calls through
            ``gateway``) instead of stopping before the first one.
        allow_tools: Let a live replay call tools (through ``gateway``).
        allow_memory_writes: Let a live replay write memory (through ``gateway``).
        llm: The provider for live LLM steps (default: the one ``LONGBOAT_LLM__*`` configures;
            an offline replay that is not live refuses LLM calls).
        gateway: The gateway for live governed steps (none: they are refused).
        only_llm: Live, run new LLM steps only: any other new step of the handler's own is
            refused and recorded as an intent (``step:<name>``), as a shadow run needs.
        outputs: Filled with the records the run would write to its output topics (not its
            progress or dead letter), as encoded: a shadow run writes them to its own topic.
    """
    serde = EnvelopeSerde()
    settings = AgentSettings()
    names = TopicNames(settings.topic_prefix)
    provider = llm or (provider_from_settings(settings.llm) if live else _RefusingLLM())
    state = _ReplayState({s.index - 1: s for s in trace.steps}, live, only_llm)
    refusing = ReplayGateway(gateway, allow_tools=allow_tools, allow_writes=allow_memory_writes)
    seen: list[JsonValue] = []
    deps = RuntimeDeps(
        agent=_observed(agent, seen),
        settings=settings,
        names=names,
        group_id=trace.header.group,
        serde=serde,
        journal=None,
        llm=provider,
        metrics=AgentMetrics(),
        faults=FaultPlan(),
        gateway=refusing,
    )
    chain = ForkChain.of(trace.header)
    try:
        outcome = await execute_run(
            deps,
            replay_input(trace, serde),
            trace.history(),
            _discard,
            context_type=_context_type(state, chain),
            run_id_override=trace.header.run_id if chain else None,
        )
    except _Stop as stop:
        await _close(provider, llm)
        return ReplayReport(
            run_id=trace.header.run_id,
            agent=agent.name,
            served=state.served,
            executed=state.executed,
            outcome="stopped",
            divergence=state.divergence,
            next_step=stop.step,
            refused=tuple(refusing.refused),
            steps=_names(state),
        )
    await _close(provider, llm)
    dlq = names.dlq(agent.name)
    if outputs is not None:
        outputs.extend(o for o in outcome.outputs if o.topic not in (names.progress, dlq))
    letters = [serde.decode(o.value, o.headers) for o in outcome.outputs if o.topic == dlq]
    error = DeadLetter.model_validate(letters[0].data).message if letters else None
    return ReplayReport(
        run_id=trace.header.run_id,
        agent=agent.name,
        served=state.served,
        executed=state.executed,
        outcome="dead_lettered" if outcome.status == "dead_lettered" else "completed",
        divergence=state.divergence,
        value=seen[0] if seen else None,
        error=error,
        emitted=tuple(_emitted(outcome.outputs, serde, {names.progress, dlq})),
        refused=(*refusing.refused, *state.intents),
        steps=_names(state),
    )


def _names(state: _ReplayState) -> tuple[CalledStep, ...]:
    return tuple(CalledStep(name=state.names[i], args=state.args[i]) for i in sorted(state.names))


async def _close(provider: LLMProvider, given: LLMProvider | None) -> None:
    if provider is not given:
        await provider.close()  # ours, not the caller's


def _observed(agent: Agent, seen: list[JsonValue]) -> Agent:
    """``agent`` with its handler's return value kept (the run's outputs do not carry it)."""
    handle = agent.handle

    async def observed(ctx: Context, event: Envelope) -> JsonValue:
        value: JsonValue = await handle(ctx, event)
        seen.append(value)
        return value

    return Agent(
        agent.name,
        topics=agent.topics,
        tasks=agent.tasks,
        durability=agent.durability,
        max_in_flight=agent.max_in_flight,
        retry=agent.retry,
        version=agent.version,
        handler=observed,
    )
