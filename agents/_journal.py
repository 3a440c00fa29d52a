"""The step journal: what each run's steps did, on the compacted ``lb.journal.<agent>`` topic.

Journal records are written *outside* the checkpoint transactions by an idempotent producer,
so that a step acknowledged in ``sync`` mode survives even when the run's transaction is later
aborted or fenced, and so that readers never wait behind another partition's open
transaction. Which runs *completed* is not journalled here: it is stored in the committed
offset's metadata, atomically with the run's outputs (see ``_checkpoint_meta.py``).

Layout: every record of one input partition goes to one journal partition
(:func:`journal_partition`); the key is ``<run_id>:<step index>`` so that compaction keeps the
latest state of each step (completed supersedes started).
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, JsonValue

from longboat import KafkaSettings, RecordCodec, utc_now
from longboat.errors import RetryableError
from longboat.kafka import ConsumedRecord, Consumer, Producer, RecordMetadata, TopicPartition

__all__ = [
    "ARGS_LIMIT",
    "JOURNAL_RECORDS",
    "JournalRecord",
    "JournalUnavailable",
    "RunHistory",
    "StepJournal",
    "journal_partition",
    "load_journal_tail",
]

StepState = Literal["started", "completed", "failed"]

ARGS_LIMIT = 16_384
"""Arguments longer than this (canonical JSON characters) are not journalled: a trace shows
their absence, and replay compares such steps by fingerprint only."""


class JournalUnavailable(RetryableError):
    """The step journal could not be written: the runtime, not the record, is at fault."""

    code = "journal_unavailable"


def journal_partition(topic: str, partition: int, journal_partitions: int) -> int:
    """The journal partition of one input partition. NEVER CHANGE: readers find runs with it."""
    return zlib.crc32(f"{topic}\x1f{partition}".encode()) % journal_partitions


class JournalRecord(BaseModel):
    """One step's state in one run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = 1
    state: StepState
    agent: str
    run_id: str
    topic: str
    partition: int
    offset: int
    index: int
    name: str
    fp: str
    result: JsonValue = None
    error: str | None = None
    attempt: int = 1
    time: datetime
    # Added for traces (docs/debugging.md); optional, so records written before them still read.
    args: str | None = None  # canonical JSON of the arguments; None when over ARGS_LIMIT
    duration_ms: float | None = None
    version: str | None = None
    workflow_id: str | None = None
    decision_id: str | None = None

    @property
    def key(self) -> bytes:
        """The compaction key: one per step of one run."""
        return f"{self.run_id}:{self.index}".encode()


# None fields are left out (every optional field defaults to None): smaller journal records.
JOURNAL_RECORDS: RecordCodec[JournalRecord] = RecordCodec(JournalRecord, exclude_none=True)
"""The serde of ``lb.journal.<agent>`` values, for the runtime that writes and reads them."""

_RANK = {"started": 0, "failed": 1, "completed": 2}


@dataclass
class RunHistory:
    """What the journal knows of one run: its latest record per step index."""

    steps: dict[int, JournalRecord] = field(default_factory=dict)
    first_journal_offset: int | None = None

    def add(self, record: JournalRecord, journal_offset: int) -> None:
        """Keep the most advanced state of each step (completed beats failed beats started)."""
        current = self.steps.get(record.index)
        if (
            current is None
            or current.fp != record.fp
            or _RANK[record.state] >= _RANK[current.state]
        ):
            self.steps[record.index] = record
        if self.first_journal_offset is None or journal_offset < self.first_journal_offset:
            self.first_journal_offset = journal_offset


class StepJournal:
    """Writes journal records for the runs of one agent process."""

    def __init__(self, producer: Producer, topic: str, partitions: int) -> None:
        """Create a journal writer.

        Args:
            producer: An idempotent (non-transactional) producer owned by the caller.
            topic: ``lb.journal.<agent>``.
            partitions: The journal topic's partition count.
        """
        self._producer = producer
        self.topic = topic
        self.partitions = partitions

    def partition_for(self, tp: TopicPartition) -> int:
        """The journal partition holding ``tp``'s runs."""
        return journal_partition(tp.topic, tp.partition, self.partitions)

    async def write(
        self, record: JournalRecord, *, on_ack: Callable[[RecordMetadata], None] | None = None
    ) -> asyncio.Future[RecordMetadata]:
        """Queue a record; the future resolves once the broker has it (``acks=all``)."""
        partition = journal_partition(record.topic, record.partition, self.partitions)
        value = JOURNAL_RECORDS.encode(record)
        future = await self._producer.enqueue(
            self.topic, value, key=record.key, partition=partition
        )
        if on_ack is not None:
            future.add_done_callback(lambda f: on_ack(f.result()) if not f.exception() else None)
        return future

    async def flush(self) -> None:
        """Wait until every queued record is acknowledged."""
        await self._producer.flush()


def new_record(state: StepState, **fields: object) -> JournalRecord:
    """A journal record stamped with the current time."""
    return JournalRecord.model_validate({"state": state, "time": utc_now(), **fields})


async def load_journal_tail(
    kafka: KafkaSettings,
    *,
    topic: str,
    journal_partition_id: int,
    start: int,
    source: TopicPartition,
    from_offset: int,
) -> tuple[dict[int, RunHistory], int]:
    """Read one journal partition from ``start`` to its current end, for one input partition.

    Returns:
        The history of every run of ``source`` at input offset ``>= from_offset``, by offset,
        and the journal offset the read stopped at (its end when the read began).
    """
    tp = TopicPartition(topic, journal_partition_id)
    histories: dict[int, RunHistory] = {}
    # read_uncommitted: journal records are never transactional, and this way a reader never
    # waits behind another partition's open checkpoint transaction.
    async with Consumer(kafka, isolation_level="read_uncommitted", max_poll_records=2000) as reader:
        reader.assign([tp])
        end = (await reader.end_offsets([tp]))[tp]
        if start >= end:
            return histories, end
        reader.seek(tp, start)
        # Compaction leaves gaps, so progress is the consumer's position, not the last offset.
        while await reader.position(tp) < end:
            for raw in await reader.poll(timeout_ms=500):
                if raw.offset < end:
                    _collect(raw, source, from_offset, histories)
    return histories, end


def _collect(
    raw: ConsumedRecord,
    source: TopicPartition,
    from_offset: int,
    histories: dict[int, RunHistory],
) -> None:
    # A foreign or corrupt record must not stop recovery (it cannot belong to a run): the
    # codec logs and skips it.
    record = JOURNAL_RECORDS.decode(raw)
    if record is None:
        return
    if record.topic != source.topic or record.partition != source.partition:
        return
    if record.offset < from_offset:
        return
    histories.setdefault(record.offset, RunHistory()).add(record, raw.offset)
