"""Fork after a fix: re-run a finished run on new code, reusing its steps before step N.

A fork is a new run (``fork_run_id(parent, ordinal)``) of the parent's input record:

- steps before N return the parent's recorded results (nothing runs, no token is spent); they
  chain their fingerprints from the parent's run id exactly as the parent did, so the new
  code must make the same calls to be served (a changed step runs anew, as in any replay);
- from step N on, fingerprints chain from a virtual ``longboat.fork`` step that mixes in the
  fork id (``fork_marker``): every later step, tool call included, has an idempotency key
  the parent never used, so providers do not answer it with the parent's result;
- its steps are journalled under the fork id in the agent's journal, each naming the parent
  (``forked_from``, ``fork_from_step``); that one fact links both ways: the fork's trace names
  its parent, and the parent's trace lists its forks (``_runs.py``);
- its outputs (emits, dead letter, task result, progress) are written in one transaction
  under ``fork_transactional_id(group, fork)``, then an end marker (``FORK_END``) records
  its outcome in the journal.

A fork is not a consumer-group run: it commits no offset (the parent's input is already
committed) and the group's recovery ignores its journal records. If the process dies mid-way
nothing is resumed: the next fork gets the next ordinal, a new id and fresh keys, and its
steps from N on run again (outputs of an unfinished fork were never committed).
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from pydantic import BaseModel, ConfigDict

from longboat import EnvelopeSerde, TopicNames, utc_now
from longboat.agents._agent import Agent
from longboat.agents._context import Context, _StepCall
from longboat.agents._faults import FaultPlan
from longboat.agents._fork_chain import ForkChain
from longboat.agents._governed import GatewayPort
from longboat.agents._identity import fork_run_id, fork_transactional_id
from longboat.agents._journal import FORK_END, JournalRecord, RunHistory, StepJournal, new_record
from longboat.agents._metrics import AgentMetrics
from longboat.agents._options import AgentSettings
from longboat.agents._outputs import OutputRecord
from longboat.agents._replay import replay_input, replay_trace
from longboat.agents._run import RunOutcome, execute_run
from longboat.agents._runner import gateway_client
from longboat.agents._runtime_deps import RuntimeDeps
from longboat.agents._trace import Trace
from longboat.errors import UsageError
from longboat.kafka import Producer, TransactionalProducer
from longboat.llm import LLMProvider, provider_from_settings

__all__ = ["ForkReport", "default_fork_step", "fork_context_type", "fork_run"]


class ForkReport(BaseModel):
    """What a fork did."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    parent: str
    fork_id: str
    from_step: int
    reused: int
    executed: int
    outcome: str  # completed | dead_lettered
    outputs: int


def fork_context_type(*, parent_run_id: str, from_step: int, fork_id: str) -> type[Context]:
    """A context that chains like the parent before step ``from_step`` and freshly from it."""

    chain = ForkChain(parent_run_id, from_step, fork_id)

    class ForkContext(Context):
        def _begin(self, name: str, args_json: str) -> _StepCall:
            if self._current is None:
                self._previous_fp = chain.previous(self._next_index, self._previous_fp)
            return super()._begin(name, args_json)

        async def _append(self, record: JournalRecord, *, wait: bool) -> None:
            linked = {"forked_from": parent_run_id, "fork_from_step": from_step}
            await super()._append(record.model_copy(update=linked), wait=wait)

    return ForkContext


async def default_fork_step(agent: Agent, trace: Trace) -> int:
    """The first step the new code cannot take from the trace: the divergence, or the step the
    run failed on, or the first step it never reached (one past the last, if none)."""
    report = await replay_trace(agent, trace)
    if report.divergence is not None:
        return report.divergence.step
    if report.next_step is not None:
        return report.next_step.step
    return len(trace.steps) + 1


def _check_parent(trace: Trace) -> None:
    h = trace.header
    if h.forked_from is not None:
        raise UsageError(f"run {h.run_id} is a fork of {h.forked_from}: fork that run instead")
    if h.outcome == "in_flight":
        raise UsageError(
            f"run {h.run_id} is still in flight (its group may yet finish it): "
            "fork a completed or dead-lettered run"
        )
    if h.event is None:
        raise UsageError(f"run {h.run_id}: its input record is gone from {h.topic}: no fork")


def _check_step(trace: Trace, from_step: int) -> None:
    h = trace.header
    if not 1 <= from_step <= len(trace.steps) + 1:
        raise UsageError(
            f"--from-step {from_step}: run {h.run_id} has steps 1..{len(trace.steps)} "
            f"(give 1..{len(trace.steps) + 1})"
        )


def _counts(outcome: RunOutcome, serde: EnvelopeSerde, progress: str) -> tuple[int, int]:
    for output in outcome.outputs:
        if output.topic == progress:
            data = serde.decode(output.value, output.headers).data
            if isinstance(data, dict):
                return int(str(data["steps_replayed"])), int(str(data["steps_executed"]))
    return 0, 0  # pragma: no cover - every run writes its progress


async def fork_run(
    agent: Agent,
    trace: Trace,
    *,
    settings: AgentSettings,
    from_step: int | None = None,
    llm: LLMProvider | None = None,
    gateway: GatewayPort | None = None,
) -> ForkReport:
    """Fork ``trace``'s run (loaded from the cluster, forks noted) on ``agent``'s code.

    Args:
        agent: The deployed (fixed) code.
        trace: The parent run, as ``load_trace`` reads it (its notes number the forks).
        settings: The agent settings (broker, topic prefix, LLM).
        from_step: The first step to run anew (default :func:`default_fork_step`).
        llm: The LLM provider for new LLM steps (default: from ``settings``).
        gateway: The gateway for governed steps from N on (default: a client signing with
            ``LONGBOAT_AGENT__KEY_FILE`` as instance ``fork``; none without a key).

    Raises:
        UsageError: The run is a fork, in flight, has no input event, or N is out of range.
    """
    _check_parent(trace)
    step = from_step if from_step is not None else await default_fork_step(agent, trace)
    _check_step(trace, step)
    h = trace.header
    fork_id = fork_run_id(h.run_id, len(trace.forks) + 1)
    history = RunHistory()
    for index, record in trace.history().steps.items():
        if index < step - 1:
            history.add(record, 0)
    names = TopicNames(settings.topic_prefix)
    serde = EnvelopeSerde()
    async with AsyncExitStack() as stack:
        if gateway is None:
            gateway = await gateway_client(agent, settings, instance="fork", stack=stack)
        provider = llm or provider_from_settings(settings.llm)
        if llm is None:
            stack.push_async_callback(provider.close)
        writer = await stack.enter_async_context(Producer(settings.kafka))
        topic = names.journal(h.agent)
        journal = StepJournal(writer, topic, len(await writer.partitions_for(topic)))
        deps = RuntimeDeps(
            agent=agent,
            settings=settings,
            names=names,
            group_id=h.group,
            serde=serde,
            journal=journal,
            llm=provider,
            metrics=AgentMetrics(),
            faults=FaultPlan(),
            gateway=gateway,
        )
        link = {
            "run_id": fork_id,
            "forked_from": h.run_id,
            "fork_from_step": step,
            "time": utc_now(),
        }
        for record in history.steps.values():
            # The reused steps, under the fork's id: its trace is whole (and self-contained).
            await journal.write(record.model_copy(update=link))
        outcome = await execute_run(
            deps,
            replay_input(trace, serde),
            history,
            journal.write,
            context_type=fork_context_type(parent_run_id=h.run_id, from_step=step, fork_id=fork_id),
            run_id_override=fork_id,
        )
        await journal.flush()
        await _commit(settings, fork_transactional_id(h.group, fork_id), outcome.outputs)
        # After the commit: the marker says the outputs are visible (a crash before it leaves
        # the fork listed as in flight, its outputs unwritten or written).
        await (await journal.write(_end_marker(trace, fork_id, step, outcome.status)))
    reused, executed = _counts(outcome, serde, names.progress)
    return ForkReport(
        parent=h.run_id,
        fork_id=fork_id,
        from_step=step,
        reused=reused,
        executed=executed,
        outcome=outcome.status,
        outputs=len(outcome.outputs),
    )


async def _commit(settings: AgentSettings, txn_id: str, outputs: list[OutputRecord]) -> None:
    # One transaction: a reader sees all of the fork's outputs or none of them.
    producer = TransactionalProducer(settings.kafka, transactional_id=txn_id)
    async with producer, producer.transaction():
        futures = [
            await producer.enqueue(
                o.topic, o.value, key=o.key, headers=o.headers, partition=o.partition
            )
            for o in outputs
        ]
    await asyncio.gather(*futures)  # every send acknowledged, or the error surfaces


def _end_marker(trace: Trace, fork_id: str, step: int, status: str) -> JournalRecord:
    h = trace.header
    return new_record(
        "completed",
        agent=h.agent,
        run_id=fork_id,
        topic=h.topic,
        partition=h.partition,
        offset=h.offset,
        index=FORK_END,
        name="longboat.fork",
        fp=fork_id,
        result={"outcome": status},
        forked_from=h.run_id,
        fork_from_step=step,
    )
