"""What production did with an agent's inputs, as a shadow run needs it, read as it goes.

A shadow run takes input records production has *finished* with: below the production
group's committed offset (``finished``). For each, :meth:`ProductionIndex.trace` is the
production run as a trace: its journalled steps (served to the candidate), its outcome
(dead-lettered when a dead letter names it, else completed) and the input event.

Why "finished" is enough to find a run's steps: the runtime journals a run's steps before it
commits the run's offset (commits never outrun durable state), and writes its dead letter in
the same transaction as that commit. So once :meth:`refresh` has read the committed offsets
*and then* caught up with the journal and the dead-letter topic, every run below the offsets
is complete in the index. ``refresh`` reads only what was appended since the last call, so a
following shadow run (``--follow``) does not re-read the journal.

A run with no journalled step (``durability="exit"``, or a handler that took no step) is
still a run: its trace has no steps, and its outcome comes from the same facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Self

from pydantic import ValidationError

from longboat import Envelope, EnvelopeSerde, KafkaSettings, TopicNames
from longboat.agents._checkpoint_meta import CheckpointMeta
from longboat.agents._dlq import DLQ_TYPE, REPLAYED_TYPE, DeadLetter
from longboat.agents._identity import run_id
from longboat.agents._journal import FORK_END, JOURNAL_RECORDS
from longboat.agents._runs import _Journalled, agent_group
from longboat.agents._trace import Trace, TraceHeader, trace_steps
from longboat.errors import EventError, TopicError
from longboat.kafka import Admin, ConsumedRecord, Consumer, IsolationLevel, TopicPartition

__all__ = ["ProductionIndex"]

# A journal record is written after its input record was appended; how far a producer's clock
# may lag the broker's before a time-bounded read of the journal misses a run's first steps.
CLOCK_SLACK_MS = 15 * 60 * 1000


class _Tail:
    """One topic read from a start to its end, and again from there on each call."""

    def __init__(self, kafka: KafkaSettings, topic: str, isolation: IsolationLevel) -> None:
        self._kafka = kafka
        self.topic = topic
        self._consumer = Consumer(kafka, isolation_level=isolation, max_poll_records=2000)
        self._tps: list[TopicPartition] = []

    async def open(self, since_ms: int | None) -> None:
        async with Admin(self._kafka) as admin:
            count = await admin.partition_count(self.topic)
        self._tps = [TopicPartition(self.topic, p) for p in range(count)]
        await self._consumer.start()
        self._consumer.assign(self._tps)
        if since_ms is None:
            await self._consumer.seek_to_beginning(self._tps)
            return
        starts = await self._consumer.offsets_for_times(self._tps, since_ms)
        ends = await self._consumer.end_offsets(self._tps)
        for tp in self._tps:
            found = starts.get(tp)
            self._consumer.seek(tp, ends[tp] if found is None else found)

    async def new_records(self) -> list[ConsumedRecord]:
        """Every record appended since the last call (up to the end as of this call)."""
        ends = await self._consumer.end_offsets(self._tps)
        found: list[ConsumedRecord] = []
        while any([await self._consumer.position(tp) < ends[tp] for tp in self._tps]):
            found += await self._consumer.poll(timeout_ms=300)
        return found

    async def close(self) -> None:
        await self._consumer.stop()


class ProductionIndex:
    """Production's runs of one agent: journal, dead letters and committed offsets.

    ``async with ProductionIndex(...) as index``; then :meth:`refresh` before asking
    :meth:`finished` and :meth:`trace`.
    """

    def __init__(
        self, kafka: KafkaSettings, names: TopicNames, agent: str, *, since_ms: int | None = None
    ) -> None:
        """Index ``agent``'s production runs; ``since_ms`` skips journal records older than
        that input time (less a clock slack): a time-bounded shadow reads no older history."""
        self._kafka = kafka
        self.agent = agent
        self.group = agent_group(names, agent)
        self._since_ms = None if since_ms is None else since_ms - CLOCK_SLACK_MS
        self._journal = _Tail(kafka, names.journal(agent), "read_uncommitted")
        self._dlq: _Tail | None = _Tail(kafka, names.dlq(agent), "read_committed")
        self._runs: dict[str, _Journalled] = {}
        self._dead: dict[str, DeadLetter] = {}
        self._replayed: set[str] = set()
        self._dead_ids: dict[str, str] = {}  # dead letter's event id -> run id
        self._committed: dict[TopicPartition, tuple[int, CheckpointMeta]] = {}
        self._serde = EnvelopeSerde()
        self._admin = Admin(kafka)

    async def __aenter__(self) -> Self:
        try:
            await self._admin.start()  # one client for every refresh: a follower asks often
            await self._journal.open(self._since_ms)
            await self._open_dlq()
        except BaseException:
            await self.__aexit__(None, None, None)  # every close is safe on what never opened
            raise
        return self

    async def _open_dlq(self) -> None:
        if self._dlq is None:
            return
        try:
            await self._dlq.open(self._since_ms)
        except TopicError:
            await self._dlq.close()
            self._dlq = None  # no dead-letter topic: no run was dead-lettered

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._journal.close()
        if self._dlq is not None:
            await self._dlq.close()
        await self._admin.stop()

    async def refresh(self, partitions: Sequence[TopicPartition]) -> None:
        """Read production's committed offsets of ``partitions``, then what it journalled since."""
        # Offsets first: every run below them has its journal and dead letter already written.
        committed = await self._admin.committed(self.group, set(partitions))
        self._committed = {
            tp: (c.offset, CheckpointMeta.decode(c.metadata, c.offset))
            for tp, c in committed.items()
        }
        for raw in await self._journal.new_records():
            record = JOURNAL_RECORDS.decode(raw)  # junk is logged and skipped: None
            if record is None or record.forked_from is not None or record.index == FORK_END:
                continue  # a fork is not a production run of its input
            self._runs.setdefault(record.run_id, _Journalled(record)).add(record, raw.offset)
        if self._dlq is not None:
            for raw in await self._dlq.new_records():
                self._dead_letter(raw)

    def _dead_letter(self, raw: ConsumedRecord) -> None:
        try:
            event = self._serde.decode(raw.value, raw.headers)
            if event.type == REPLAYED_TYPE and isinstance(event.data, dict):
                replayed = self._dead_ids.pop(str(event.data.get("dlq_id")), None)
                self._dead.pop(replayed or "", None)  # put back on its topic: not a final outcome
            elif event.type == DLQ_TYPE:
                letter = DeadLetter.model_validate(event.data)
                self._dead[letter.run_id] = letter
                self._dead_ids[event.id] = letter.run_id
        except (EventError, ValidationError):
            return  # not a dead letter of ours: the topic may be shared

    def finished(self, tp: TopicPartition) -> int:
        """The offset below which production has finished every input of ``tp`` (0: none)."""
        found = self._committed.get(tp)
        return found[0] if found else 0

    def trace(self, record: ConsumedRecord, event: Envelope | None) -> Trace:
        """Production's run of ``record`` (finished), as a trace; forgotten once asked for."""
        rid = run_id(self.group, record.topic, record.partition, record.offset)
        run = self._runs.pop(rid, None)
        dead = self._dead.pop(rid, None)
        first = run.first if run else None
        header = TraceHeader(
            agent=self.agent,
            version=first.version if first else None,
            run_id=rid,
            group=self.group,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key.decode(errors="replace") if record.key is not None else None,
            event=event,
            workflow_id=first.workflow_id if first else None,
            started=run.started if run else None,
            ended=run.ended if run else None,
            outcome="dead_lettered" if dead else "completed",
            error=dead.message if dead else None,
        )
        return Trace(header=header, steps=trace_steps(run.history) if run else ())
