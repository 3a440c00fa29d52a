"""Reading a topic from its beginning to its end "as of now" (state rebuilds, audits, lists)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from longboat._codec import RecordCodec
from longboat._settings import KafkaSettings
from longboat.kafka._admin import Admin
from longboat.kafka._consumer import Consumer, IsolationLevel
from longboat.kafka._records import ConsumedRecord, TopicPartition

__all__ = ["Decoded", "decoded", "read_decoded", "read_to_end"]

M = TypeVar("M")


@dataclass(frozen=True, slots=True)
class Decoded(Generic[M]):
    """One system-topic record as its model; ``value`` is ``None`` for a tombstone."""

    record: ConsumedRecord
    value: M | None

    @property
    def key(self) -> str:
        """The record key as text ("" when there is none)."""
        return (self.record.key or b"").decode(errors="replace")


def decoded(record: ConsumedRecord, codec: RecordCodec[M]) -> Decoded[M] | None:
    """``record`` decoded by ``codec``; ``None`` if it was skipped (logged and counted there)."""
    if record.value is None:
        return Decoded(record, None)
    value = codec.decode(record)
    return None if value is None else Decoded(record, value)


async def read_to_end(
    kafka: KafkaSettings,
    topic: str,
    *,
    partitions: Iterable[int] | None = None,
    isolation_level: IsolationLevel = "read_committed",
    since_ms: int | None = None,
) -> AsyncIterator[ConsumedRecord]:
    """Every record of ``topic`` (or of some of its partitions) up to its end when called.

    Progress is the consumer's position, not the last offset seen: compaction and transaction
    markers leave gaps, and a read must still know when it has reached the end. Readers of the
    model-valued system topics use :func:`read_decoded` instead. ``since_ms`` starts each
    partition at its first record stamped at or after that time (epoch milliseconds) instead
    of its beginning: a bounded read of a long log.
    """
    if partitions is None:
        async with Admin(kafka) as admin:
            partitions = range(await admin.partition_count(topic))
    tps = [TopicPartition(topic, p) for p in partitions]
    async with Consumer(kafka, isolation_level=isolation_level, max_poll_records=2000) as consumer:
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        if since_ms is None:
            await consumer.seek_to_beginning(tps)
        else:
            starts = await consumer.offsets_for_times(tps, since_ms)
            for tp in tps:
                found = starts.get(tp)
                consumer.seek(tp, ends[tp] if found is None else found)
        while any([await consumer.position(tp) < ends[tp] for tp in tps]):
            for record in await consumer.poll(timeout_ms=300):
                if record.offset < ends[record.topic_partition]:
                    yield record


async def read_decoded(
    kafka: KafkaSettings,
    topic: str,
    codec: RecordCodec[M],
    *,
    partitions: Iterable[int] | None = None,
    isolation_level: IsolationLevel = "read_committed",
) -> AsyncIterator[Decoded[M]]:
    """:func:`read_to_end` through ``codec``: models and tombstones; junk is skipped and logged.

    A record the codec cannot decode never reaches the caller, so one bad record on a
    compacted topic cannot break every later read of it.
    """
    async for record in read_to_end(
        kafka, topic, partitions=partitions, isolation_level=isolation_level
    ):
        if (item := decoded(record, codec)) is not None:
            yield item
