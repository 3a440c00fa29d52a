"""Reading a topic from its beginning to its end "as of now" (state rebuilds, audits, lists)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

from longboat._settings import KafkaSettings
from longboat.kafka._admin import Admin
from longboat.kafka._consumer import Consumer, IsolationLevel
from longboat.kafka._records import ConsumedRecord, TopicPartition

__all__ = ["read_to_end"]


async def read_to_end(
    kafka: KafkaSettings,
    topic: str,
    *,
    partitions: Iterable[int] | None = None,
    isolation_level: IsolationLevel = "read_committed",
) -> AsyncIterator[ConsumedRecord]:
    """Every record of ``topic`` (or of some of its partitions) up to its end when called.

    Progress is the consumer's position, not the last offset seen: compaction and transaction
    markers leave gaps, and a read must still know when it has reached the end.
    """
    if partitions is None:
        async with Admin(kafka) as admin:
            partitions = range(await admin.partition_count(topic))
    tps = [TopicPartition(topic, p) for p in partitions]
    async with Consumer(kafka, isolation_level=isolation_level, max_poll_records=2000) as consumer:
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.seek_to_beginning(tps)
        while any([await consumer.position(tp) < ends[tp] for tp in tps]):
            for record in await consumer.poll(timeout_ms=300):
                if record.offset < ends[record.topic_partition]:
                    yield record
