"""A shadow run: a candidate version over an agent's real input records, with no side effect.

``run_shadow`` reads the agent's input topics in the shadow's own consumer group
(``lb.shadow.<agent>.<version>``, never the production group) over a window (offsets or
record times), and for each input record production has finished with:

- builds production's run of it (``ProductionIndex``: its journalled steps, outcome, input);
- runs the candidate handler on the same input with the replay machinery: a step the
  candidate asks for exactly as production did (same name and arguments, in order) returns
  production's result, so nothing runs again; new LLM steps run live (``llm="live"``) or are
  refused (``llm="replay"``); new tool calls, memory reads and writes, policy questions and
  new steps of the handler's own are never executed, only recorded as intents (the
  candidate's run stops there);
- writes the candidate's outputs to ``lb.shadow.<agent>.outputs`` (never to their topics) and
  its :class:`ShadowDecision` to ``lb.shadow.<agent>.decisions``, in one transaction with the
  shadow group's offsets: a crashed shadow resumes after the last input it recorded, and
  never records one twice.

Why only inputs production has finished (below its group's committed offset): the decision
compares the candidate with what production did, which is known only then; a following shadow
(``follow=True``) trails production. Inputs production has not reached are left for later:
the shadow group's offset stops before them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from longboat import Envelope, EnvelopeSerde, KafkaSettings, TopicNames, TopicSpec
from longboat.agents._agent import Agent
from longboat.agents._outputs import OutputRecord
from longboat.agents._replay import CalledStep, replay_trace
from longboat.agents._replay_gateway import ReplayRefused
from longboat.agents._shadow import (
    SHADOW_DECISION_TYPE,
    SHADOW_TOPIC_HEADER,
    ShadowDecision,
    ShadowWindow,
    shadow_group,
    shadow_output_topic,
    shadow_topic,
)
from longboat.agents._shadow_production import ProductionIndex
from longboat.agents._trace import Trace
from longboat.errors import EventError
from longboat.kafka import Admin, ConsumedRecord, Consumer, TopicPartition, TransactionalProducer
from longboat.llm import LLMProvider, LLMRequest, LLMResponse

__all__ = ["run_shadow"]

_BATCH = 50  # inputs decided per transaction: bounds what a crash makes the shadow redo


class _ReplayedLLM:
    """``--llm replay``: only recorded answers; a new LLM call is refused, not spent."""

    async def complete(self, request: LLMRequest) -> LLMResponse:
        raise ReplayRefused("a shadow run with --llm replay makes no new LLM call")

    async def close(self) -> None:
        """Nothing to release."""


@dataclass(frozen=True)
class _Candidate:
    agent: Agent
    version: str
    shadow_id: str
    llm: LLMProvider | None


async def _decide(
    candidate: _Candidate, trace: Trace, record: ConsumedRecord
) -> tuple[ShadowDecision, list[OutputRecord]]:
    h = trace.header
    base = {
        "shadow_id": candidate.shadow_id,
        "agent": h.agent,
        "candidate_version": candidate.version,
        "run_id": h.run_id,
        "topic": h.topic,
        "partition": h.partition,
        "offset": h.offset,
        "input_id": h.event.id if h.event else None,
        "input_time": datetime.fromtimestamp(record.timestamp_ms / 1000, UTC),
        "production_outcome": h.outcome,
        "production_journalled": bool(trace.steps),
        "production_steps": tuple(CalledStep(name=s.name, args=s.args) for s in trace.steps),
    }
    if h.event is None:
        # Not an event: the runtime dead-letters it before any handler runs, so would the
        # candidate's (a junk record in the window must not make every report unclean).
        error = "the input record is not an event: dead-lettered undecoded"
        decision = {**base, "outcome": "dead_lettered", "error": error}
        return ShadowDecision.model_validate(decision), []
    outputs: list[OutputRecord] = []
    report = await replay_trace(
        candidate.agent, trace, live=True, only_llm=True, llm=candidate.llm, outputs=outputs
    )
    decision = {
        **base,
        "outcome": report.outcome,
        "error": report.error,
        "divergence_step": report.divergence.step if report.divergence else None,
        "steps": report.steps,
        "intents": report.refused,
        "outputs": report.emitted,
    }
    return ShadowDecision.model_validate(decision), outputs


class _ShadowLoop:
    """One shadow run's consumer, production index and transactional writer."""

    def __init__(
        self,
        kafka: KafkaSettings,
        names: TopicNames,
        candidate: _Candidate,
        window: ShadowWindow,
        on_decision: Callable[[ShadowDecision], None] | None,
    ) -> None:
        self._kafka = kafka
        self._names = names
        self._candidate = candidate
        self.window = window
        self._on_decision = on_decision
        agent = candidate.agent.name
        self.group = shadow_group(names, agent, candidate.version)
        self._decisions = shadow_topic(names, agent)
        self._outputs = shadow_output_topic(names, agent)
        self._serde = EnvelopeSerde()
        self.decisions: list[ShadowDecision] = []  # recorded so far, in order

    async def partitions(self) -> list[TopicPartition]:
        """Every partition of the agent's input topics; creates the shadow's own topics."""
        async with Admin(self._kafka) as admin:
            await admin.ensure_topics([TopicSpec(self._decisions, 1), TopicSpec(self._outputs, 1)])
            tps = []
            for topic in self._candidate.agent.input_topics(self._names):
                count = await admin.partition_count(topic)
                tps += [TopicPartition(topic, p) for p in range(count)]
        return tps

    async def start(
        self, consumer: Consumer, tps: list[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """Seek to the window's start; the window's end (exclusive) per partition."""
        w = self.window
        if w.from_offset is not None or w.since_ms is not None:
            firsts = await consumer.beginning_offsets(tps)
            ends = await consumer.end_offsets(tps)
            starts = {tp: w.from_offset for tp in tps}
            if w.since_ms is not None:
                starts = await consumer.offsets_for_times(tps, w.since_ms)
            for tp in tps:
                at = starts.get(tp)
                # Within the log: an offset out of range would make the consumer reset to its
                # beginning, and the shadow would take inputs before the window.
                at = ends[tp] if at is None else min(max(at, firsts[tp]), ends[tp])
                consumer.seek(tp, at)
        # Without a start, the group's committed offset (or the beginning) is where it reads.
        return await _window_end(consumer, tps, w)

    async def step(
        self,
        consumer: Consumer,
        production: ProductionIndex,
        producer: TransactionalProducer,
        bounds: dict[TopicPartition, int],
    ) -> None:
        """Decide the next batch of inputs below ``bounds`` and record it with the offsets."""
        records: list[ConsumedRecord] = []
        rewound: set[TopicPartition] = set()
        for record in await consumer.poll(timeout_ms=500, max_records=_BATCH):
            tp = record.topic_partition
            if tp in rewound:
                continue
            if record.offset >= bounds[tp]:
                consumer.seek(tp, record.offset)  # production has not finished it: later
                rewound.add(tp)
                continue
            records.append(record)
        if not records:
            return
        # Decide first, write after: LLM calls must not hold a transaction open.
        decided = [await self._decide(r, production) for r in records]
        offsets = {r.topic_partition: r.offset + 1 for r in records}
        await self._record(producer, decided, offsets)
        for decision, _ in decided:
            self.decisions.append(decision)
            if self._on_decision is not None:
                self._on_decision(decision)

    async def _decide(
        self, record: ConsumedRecord, production: ProductionIndex
    ) -> tuple[ShadowDecision, list[OutputRecord]]:
        try:
            event: Envelope | None = self._serde.decode(record.value, record.headers)
        except EventError:
            event = None
        return await _decide(self._candidate, production.trace(record, event), record)

    async def _record(
        self,
        producer: TransactionalProducer,
        decided: list[tuple[ShadowDecision, list[OutputRecord]]],
        offsets: dict[TopicPartition, int],
    ) -> None:
        # One transaction: decisions, outputs and the shadow group's offsets, all or none.
        async with producer.transaction():
            futures = []
            for decision, outputs in decided:
                for o in outputs:
                    headers = (*o.headers, (SHADOW_TOPIC_HEADER, o.topic.encode()))
                    futures.append(
                        await producer.enqueue(self._outputs, o.value, key=o.key, headers=headers)
                    )
                event = Envelope(
                    type=SHADOW_DECISION_TYPE,
                    source=f"longboat/shadow/{decision.agent}",
                    data=decision.model_dump(mode="json"),
                )
                encoded = self._serde.encode(event)
                futures.append(
                    await producer.enqueue(
                        self._decisions,
                        encoded.value,
                        key=decision.run_id.encode(),
                        headers=encoded.headers,
                    )
                )
            await producer.send_offsets(offsets, self.group)
        await asyncio.gather(*futures)


async def _pending(
    consumer: Consumer, tps: list[TopicPartition], bounds: dict[TopicPartition, int]
) -> list[TopicPartition]:
    todo = [tp for tp in tps if await consumer.position(tp) < bounds[tp]]
    consumer.pause([tp for tp in tps if tp not in todo])
    consumer.resume(todo)
    return todo


async def _earliest_time(consumer: Consumer, tps: list[TopicPartition]) -> int:
    """The earliest record time from each partition's position on (now, if none is left).

    Production journalled its runs of these inputs after they were appended, so the
    production index need not read older journal history (less a clock slack, there).
    """
    positions = {tp: await consumer.position(tp) for tp in tps}
    ends = await consumer.end_offsets(tps)
    pending = {tp for tp in tps if positions[tp] < ends[tp]}
    times = [int(time.time() * 1000)]  # later inputs are appended from now on
    while pending:
        for record in await consumer.poll(timeout_ms=500):
            if record.topic_partition in pending:
                times.append(record.timestamp_ms)
                pending.discard(record.topic_partition)
        # A partition may end in aborted records or markers only: its position says so.
        pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    for tp, at in positions.items():
        consumer.seek(tp, at)  # back where the shadow starts
    return min(times)


async def _window_end(
    consumer: Consumer, tps: list[TopicPartition], w: ShadowWindow
) -> dict[TopicPartition, int]:
    """The window's end (exclusive) per partition; none where it has no end (yet)."""
    limits: dict[TopicPartition, int] = {}
    if w.until_ms is not None:
        after = await consumer.offsets_for_times(tps, w.until_ms + 1)
        limits = {tp: at for tp, at in after.items() if at is not None}
    if w.to_offset is not None:
        limits = {tp: min(limits.get(tp, w.to_offset + 1), w.to_offset + 1) for tp in tps}
    return limits


async def _past(consumer: Consumer, tps: list[TopicPartition], window: ShadowWindow) -> bool:
    """A window with an end is done: every partition is at that end, or at its log's end.

    A following shadow with an end waits for production to finish the window, not for new
    records: a partition that has none up to the end (an idle task topic) must not hold it.
    """
    if window.to_offset is None and window.until is None:
        return False  # no end: follow until stopped
    limits = await _window_end(consumer, tps, window)
    ends = await consumer.end_offsets(tps)
    return all(
        [await consumer.position(tp) >= min(limits.get(tp, ends[tp]), ends[tp]) for tp in tps]
    )


async def run_shadow(
    kafka: KafkaSettings,
    names: TopicNames,
    candidate: Agent,
    *,
    candidate_version: str,
    window: ShadowWindow,
    llm: Literal["live", "replay"] = "replay",
    provider: LLMProvider | None = None,
    on_decision: Callable[[ShadowDecision], None] | None = None,
    follow: bool = False,
    stop: asyncio.Event | None = None,
) -> list[ShadowDecision]:
    """Run ``candidate`` over its agent's input records in ``window``; record its decisions.

    Args:
        kafka: The cluster production runs on.
        names: Its topic names.
        candidate: The candidate version's agent (same name and input topics as production).
        candidate_version: The version label: names the shadow group, recorded with each decision.
        window: Which input records to take (no start: where this shadow group stopped).
        llm: ``live`` runs new LLM steps through ``provider`` (default: the configured one);
            ``replay`` serves recorded answers only.
        provider: The LLM provider for ``llm="live"``.
        on_decision: Called with each decision once it is recorded (progress).
        follow: Keep following production's progress until ``stop`` is set, instead of
            ending when the shadow has caught up with it.
        stop: Set to end a following shadow (after the batch in hand is recorded).

    Raises:
        TopicError: The agent has no journal topic, or an input topic does not exist.
    """
    chosen = _Candidate(
        candidate,
        candidate_version,
        uuid.uuid4().hex,
        provider if llm == "live" else _ReplayedLLM(),
    )
    loop = _ShadowLoop(kafka, names, chosen, window, on_decision)
    tps = await loop.partitions()
    stop = stop or asyncio.Event()
    consumer = Consumer(kafka, group_id=loop.group, from_beginning=True, max_poll_records=_BATCH)
    producer = TransactionalProducer(kafka, transactional_id=loop.group)
    async with consumer, producer:
        consumer.assign(tps)
        limits = await loop.start(consumer, tps)
        since_ms = await _earliest_time(consumer, tps)
        index = ProductionIndex(kafka, names, candidate.name, since_ms=since_ms)
        async with index as production:
            await _follow(loop, consumer, production, producer, tps, limits, follow, stop)
    return loop.decisions


async def _follow(
    loop: _ShadowLoop,
    consumer: Consumer,
    production: ProductionIndex,
    producer: TransactionalProducer,
    tps: list[TopicPartition],
    limits: dict[TopicPartition, int],
    follow: bool,
    stop: asyncio.Event,
) -> None:
    """Take inputs as production finishes them: until caught up, the window ends, or ``stop``."""
    while not stop.is_set():
        await production.refresh(tps)
        bounds = {tp: min(production.finished(tp), limits.get(tp, 2**63)) for tp in tps}
        if await _pending(consumer, tps, bounds):
            await loop.step(consumer, production, producer, bounds)
        elif not follow or await _past(consumer, tps, loop.window):
            break
        else:
            await _wait(stop, seconds=0.5)


async def _wait(stop: asyncio.Event, *, seconds: float) -> None:
    # Production has not got further: look again shortly, or end as soon as asked.
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return
