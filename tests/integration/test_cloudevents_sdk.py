"""The official CloudEvents SDK as a second client of our topics, both directions, real broker.

(a) Longboat writes, a plain aiokafka consumer hands the record to the SDK's Kafka binding, and
the SDK sees the attributes, extensions and data Longboat wrote. (b) The SDK builds events and
converts them for Kafka in binary and structured mode, the test produces them with plain
aiokafka, and Longboat (its serde and ``longboat consume --json``) reads them back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.v1.event import CloudEvent

from longboat import Envelope, EnvelopeSerde, KafkaSettings, TopicSpec
from longboat.kafka import Admin, Consumer, Producer
from tests.helpers import assert_eventually

LONGBOAT = str(Path(sys.executable).parent / "longboat")
TRACE = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"


async def _create(kafka: KafkaSettings, topic: str) -> None:
    async with Admin(kafka) as admin:
        await admin.ensure_topics([TopicSpec(topic, 1)])


async def _raw_records(kafka: KafkaSettings, topic: str, count: int) -> list[ce_kafka.KafkaMessage]:
    """Read ``count`` records with plain aiokafka and wrap them as the SDK's KafkaMessage."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    messages: list[ce_kafka.KafkaMessage] = []
    try:

        async def more() -> int:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                messages.extend(
                    ce_kafka.KafkaMessage(
                        headers={k: bytes(v) for k, v in r.headers}, key=r.key, value=r.value
                    )
                    for r in records
                )
            return len(messages)

        await assert_eventually(more, lambda n: n >= count, what=f"{count} records on {topic}")
    finally:
        await consumer.stop()
    return messages


async def test_sdk_reads_what_longboat_writes(kafka: KafkaSettings, unique: str) -> None:
    """The SDK's from_kafka reads a Longboat record with Longboat's attributes, extensions and
    data."""
    topic = f"ce-out.{unique}"
    await _create(kafka, topic)
    written = [
        Envelope(
            type="claims.submitted",
            source="/intake",
            subject="claim-7",
            data={"amount": 120.5, "tags": ["a", "b"]},
            workflowid="wf-7",
            correlationid="corr-7",
            causationid="cause-7",
            traceparent=TRACE,
        ),
        Envelope(type="note.written", source="/notes", datacontenttype="text/plain", data="hi"),
        Envelope(type="ping", source="/pinger"),
    ]
    serde = EnvelopeSerde()
    async with Producer(kafka) as producer:
        for event in written:
            encoded = serde.encode(event)
            await producer.send(topic, encoded.value, key=b"wf-7", headers=encoded.headers)

    messages = await _raw_records(kafka, topic, len(written))
    read = [ce_kafka.from_kafka_event(m) for m in messages]

    full = read[0]
    assert full.get_id() == written[0].id
    assert full.get_type() == "claims.submitted"
    assert full.get_source() == "/intake"
    assert full.get_subject() == "claim-7"
    assert full.get_specversion() == "1.0"
    assert full.get_time() == written[0].time
    assert full.get_datacontenttype() == "application/json"
    assert full.get_data() == {"amount": 120.5, "tags": ["a", "b"]}
    assert full.get_extension("workflowid") == "wf-7"
    assert full.get_extension("correlationid") == "corr-7"
    assert full.get_extension("causationid") == "cause-7"
    assert full.get_extension("traceparent") == TRACE
    assert full.get_extension("partitionkey") == "wf-7"  # the SDK maps the record key here
    assert (read[1].get_datacontenttype(), read[1].get_data()) == ("text/plain", "hi")
    assert read[2].get_data() is None


async def test_longboat_reads_what_the_sdk_writes(kafka: KafkaSettings, unique: str) -> None:
    """SDK events in binary and structured mode decode in Longboat's serde and in
    ``longboat consume --json`` with the SDK's attributes and data."""
    topic = f"ce-in.{unique}"
    await _create(kafka, topic)
    at = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
    events = {
        mode: CloudEvent(
            attributes={
                "id": f"sdk-{mode}",
                "type": "com.example.order.placed",
                "source": "/shop",
                "subject": "order-9",
                "time": at,
                "datacontenttype": "application/json",
                "workflowid": f"wf-{mode}",
                "correlationid": "corr-9",
                "traceparent": TRACE,
            },
            data={"order": 9, "lines": [{"sku": "x", "qty": 2}]},
        )
        for mode in ("binary", "structured")
    }
    messages = [
        ce_kafka.to_binary_event(events["binary"]),
        ce_kafka.to_structured_event(events["structured"]),
    ]
    assert any(name.startswith("ce_") for name in messages[0].headers)
    assert messages[1].headers == {"content-type": b"application/cloudevents+json"}
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    try:
        for message in messages:
            await producer.send_and_wait(
                topic, message.value, key=b"order-9", headers=list(message.headers.items())
            )
    finally:
        await producer.stop()

    serde = EnvelopeSerde()
    received = []
    async with Consumer(kafka, topics=[topic], from_beginning=True) as consumer:

        async def more() -> int:
            received.extend(await consumer.poll(timeout_ms=500))
            return len(received)

        await assert_eventually(more, lambda n: n >= 2, what="2 SDK records")
    decoded = [serde.decode(r.value, r.headers) for r in received]
    cli = _consume_json(kafka, topic, count=2)
    for mode, event, printed in zip(("binary", "structured"), decoded, cli, strict=True):
        expected = Envelope(
            id=f"sdk-{mode}",
            type="com.example.order.placed",
            source="/shop",
            subject="order-9",
            time=at,
            datacontenttype="application/json",
            workflowid=f"wf-{mode}",
            correlationid="corr-9",
            traceparent=TRACE,
            data={"order": 9, "lines": [{"sku": "x", "qty": 2}]},
        )
        assert event == expected, mode
        assert Envelope.model_validate(printed) == expected, mode


def _consume_json(kafka: KafkaSettings, topic: str, *, count: int) -> list[dict[str, object]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGBOAT_")}
    env["LONGBOAT_KAFKA__BOOTSTRAP_SERVERS"] = kafka.bootstrap_servers
    done = subprocess.run(
        [LONGBOAT, "consume", topic, "--from-beginning", "--json", "--max", str(count)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "skipped" not in done.stderr, done.stderr
    lines: list[dict[str, object]] = [json.loads(line) for line in done.stdout.splitlines()]
    return lines
