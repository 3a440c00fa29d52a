"""The exactly-once primitive: consume -> produce with offsets in one Kafka transaction."""

from __future__ import annotations

import pytest

from longboat import KafkaSettings, TopicSpec
from longboat.errors import ProducerFenced
from longboat.kafka import (
    Admin,
    ConsumedRecord,
    Consumer,
    IsolationLevel,
    Producer,
    TopicPartition,
    TransactionalProducer,
)
from tests.helpers import assert_eventually


async def _read_all(
    kafka: KafkaSettings, topic: str, isolation: IsolationLevel, expect: int
) -> list[bytes]:
    """Everything visible on a one-partition topic at ``isolation`` (at least ``expect``)."""
    async with Consumer(kafka, isolation_level=isolation) as consumer:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning([tp])
        seen: list[ConsumedRecord] = []

        async def more() -> int:
            seen.extend(await consumer.poll(timeout_ms=300))
            return len(seen)

        await assert_eventually(more, lambda n: n >= expect, timeout_s=20, what=f"{expect} records")
        # Drain to the end so that "no more than expected" is checked too.
        ends = await consumer.end_offsets([tp])
        while not seen or seen[-1].offset < ends[tp] - 1:
            batch = await consumer.poll(timeout_ms=300)
            if not batch:
                break
            seen.extend(batch)
    return [r.value or b"" for r in seen]


async def _process(
    producer: TransactionalProducer,
    records: list[ConsumedRecord],
    out: str,
    group: str,
    *,
    commit: bool,
) -> None:
    await producer.begin()
    for record in records:
        await producer.send(out, b"out-" + (record.value or b""))
    last = records[-1]
    await producer.send_offsets({last.topic_partition: last.offset + 1}, group)
    if commit:
        await producer.commit()
    else:
        await producer.abort()


async def test_transaction_commits_outputs_and_offsets_together(
    kafka: KafkaSettings, unique: str
) -> None:
    """Committed: outputs visible and offsets moved; aborted: outputs hidden and offsets unmoved."""
    source, out, group = f"in.{unique}", f"out.{unique}", f"g.{unique}"
    tp = TopicPartition(source, 0)
    async with Admin(kafka) as admin:
        await admin.ensure_topics([TopicSpec(source, 1), TopicSpec(out, 1)])
        async with Producer(kafka) as plain:
            for n in range(10):
                await plain.send(source, f"{n}".encode())
        async with Consumer(
            kafka, topics=[source], group_id=group, from_beginning=True
        ) as consumer:
            records: list[ConsumedRecord] = []

            async def more() -> int:
                records.extend(await consumer.poll(timeout_ms=300))
                return len(records)

            await assert_eventually(more, lambda n: n >= 10, what="10 input records")
            async with TransactionalProducer(kafka, transactional_id=f"eos.{unique}.0") as producer:
                await _process(producer, records[:5], out, group, commit=True)
                await _process(producer, records[5:], out, group, commit=False)

                committed = await _read_all(kafka, out, "read_committed", 5)
                assert committed == [f"out-{n}".encode() for n in range(5)]
                # Aborted records were written: read_uncommitted shows them, read_committed never.
                uncommitted = await _read_all(kafka, out, "read_uncommitted", 10)
                assert len(uncommitted) == 10
                assert await admin.group_offsets(group) == {tp: 5}

                # Retrying the aborted work commits it exactly once.
                await _process(producer, records[5:], out, group, commit=True)
            committed = await _read_all(kafka, out, "read_committed", 10)
            assert committed == [f"out-{n}".encode() for n in range(10)]
            assert await admin.group_offsets(group) == {tp: 10}


async def test_new_producer_with_same_transactional_id_fences_the_old(
    kafka: KafkaSettings, unique: str
) -> None:
    """A zombie whose transactional id was taken over cannot commit; its records stay invisible."""
    out = f"fence.{unique}"
    async with Admin(kafka) as admin:
        await admin.ensure_topics([TopicSpec(out, 1)])
    txid = f"fence.{unique}.0"
    async with TransactionalProducer(kafka, transactional_id=txid) as zombie:
        await zombie.begin()
        await zombie.send(out, b"zombie")
        async with TransactionalProducer(kafka, transactional_id=txid) as successor:
            with pytest.raises(ProducerFenced):
                await zombie.commit()
            async with successor.transaction():
                await successor.send(out, b"successor")
        assert await _read_all(kafka, out, "read_committed", 1) == [b"successor"]
