"""Envelopes through the real broker: values, ce_* headers, keys, group commits."""

from __future__ import annotations

from longboat import Envelope, EnvelopeSerde, KafkaSettings, TopicSpec
from longboat.kafka import Admin, Consumer, Producer, TopicPartition
from tests.helpers import assert_eventually


async def test_envelopes_round_trip_with_headers_and_keys(
    kafka: KafkaSettings, unique: str
) -> None:
    """Produced envelopes come back equal, with ce_* headers and keys, in order."""
    topic = f"rt.{unique}"
    serde = EnvelopeSerde()
    async with Admin(kafka) as admin:
        await admin.ensure_topics([TopicSpec(topic, 1)])
    sent = [Envelope(type="t", source="s", data={"n": n}, workflowid=f"wf-{n}") for n in range(5)]
    async with Producer(kafka) as producer:
        for n, event in enumerate(sent):
            encoded = serde.encode(event)
            key = f"wf-{n}".encode()
            await producer.send(topic, encoded.value, key=key, headers=encoded.headers)
    received = []
    async with Consumer(kafka, topics=[topic], from_beginning=True) as consumer:

        async def more() -> int:
            received.extend(await consumer.poll(timeout_ms=500))
            return len(received)

        await assert_eventually(more, lambda n: n >= 5, what="5 records")
    assert [serde.decode(r.value, r.headers) for r in received] == sent
    assert [r.key for r in received] == [f"wf-{n}".encode() for n in range(5)]
    assert dict(received[0].headers)["ce_id"] == sent[0].id.encode()


async def test_group_offsets_move_only_on_commit(kafka: KafkaSettings, unique: str) -> None:
    """Manual commits only: reading does not move the group's offset; commit does."""
    topic, group = f"commit.{unique}", f"g.{unique}"
    tp = TopicPartition(topic, 0)
    async with Admin(kafka) as admin:
        await admin.ensure_topics([TopicSpec(topic, 1)])
        async with Producer(kafka) as producer:
            for n in range(3):
                await producer.send(topic, str(n).encode())
        async with Consumer(kafka, topics=[topic], group_id=group, from_beginning=True) as consumer:
            got: list[int] = []

            async def more() -> int:
                got.extend(r.offset for r in await consumer.poll(timeout_ms=500))
                return len(got)

            await assert_eventually(more, lambda n: n >= 3, what="3 records")
            assert await consumer.committed(tp) is None
            await consumer.commit({tp: 2})
            assert await consumer.committed(tp) == 2
        assert await admin.group_offsets(group) == {tp: 2}
