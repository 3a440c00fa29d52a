"""Kernel throughput: envelopes through Longboat's producer/consumer vs raw aiokafka.

Both sides send the same number of records of the same size to the same broker in the same
run; Longboat's side also builds and encodes the envelope (and decodes it on the way back).
The figure that matters is the ratio: what the kernel costs over the bare client.

    python -m bench.kernel_throughput [--records N] [--payload BYTES]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench._broker import bench_broker, machine_line
from longboat import Envelope, EnvelopeSerde, KafkaSettings, TopicSpec
from longboat.kafka import Admin, Consumer, Producer


async def _raw_produce(servers: str, topic: str, n: int, value: bytes) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=servers, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        start = time.perf_counter()
        futures = [await producer.send(topic, value) for _ in range(n)]
        await asyncio.gather(*futures)
        return time.perf_counter() - start
    finally:
        await producer.stop()


async def _longboat_produce(kafka: KafkaSettings, topic: str, n: int, payload: str) -> float:
    serde = EnvelopeSerde()
    async with Producer(kafka) as producer:
        start = time.perf_counter()
        futures = []
        for i in range(n):
            encoded = serde.encode(
                Envelope(type="bench", source="bench", subject=str(i), data=payload)
            )
            futures.append(await producer.enqueue(topic, encoded.value, headers=encoded.headers))
        await asyncio.gather(*futures)
        return time.perf_counter() - start


async def _raw_consume(servers: str, topic: str, n: int) -> float:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=servers, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        start = time.perf_counter()
        seen = 0
        while seen < n:
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            seen += sum(len(records) for records in batches.values())
        return time.perf_counter() - start
    finally:
        await consumer.stop()


async def _longboat_consume(kafka: KafkaSettings, topic: str, n: int) -> float:
    serde = EnvelopeSerde()
    async with Consumer(kafka, topics=[topic], from_beginning=True) as consumer:
        start = time.perf_counter()
        seen = 0
        while seen < n:
            for record in await consumer.poll(timeout_ms=1000, max_records=500):
                serde.decode(record.value, record.headers)
                seen += 1
        return time.perf_counter() - start


def _row(what: str, n: int, raw_s: float, lb_s: float) -> str:
    raw, lb = n / raw_s, n / lb_s
    return f"| {what} | {raw:,.0f} | {lb:,.0f} | {lb / raw:.2f} |"


async def _main(records: int, payload_bytes: int) -> None:
    with bench_broker() as servers:
        kafka = KafkaSettings(bootstrap_servers=servers)
        run = uuid.uuid4().hex[:8]
        raw_topic, lb_topic = f"bench.raw.{run}", f"bench.lb.{run}"
        async with Admin(kafka) as admin:
            await admin.ensure_topics([TopicSpec(raw_topic, 1), TopicSpec(lb_topic, 1)])
        payload = "x" * payload_bytes
        # The raw side sends exactly the bytes Longboat would, so only the kernel's work differs.
        sample = EnvelopeSerde().encode(Envelope(type="bench", source="bench", data=payload)).value
        await _raw_produce(servers, raw_topic, min(records, 2000), sample)  # warm-up
        raw_p = await _raw_produce(servers, raw_topic, records, sample)
        lb_p = await _longboat_produce(kafka, lb_topic, records, payload)
        total_raw = records + min(records, 2000)
        raw_c = await _raw_consume(servers, raw_topic, total_raw)
        lb_c = await _longboat_consume(kafka, lb_topic, records)
        print(f"# kernel throughput — {machine_line()}")
        print(f"# {records:,} records, {len(sample)} bytes each; records/s (higher is better)")
        print("| path | raw aiokafka | longboat | ratio |")
        print("|---|---|---|---|")
        print(_row("produce (idempotent, acks=all)", records, raw_p, lb_p))
        print(_row("consume (+ envelope decode)", records, raw_c * records / total_raw, lb_c))


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--payload", type=int, default=200, help="data size in bytes")
    args = parser.parse_args()
    asyncio.run(_main(args.records, args.payload))


if __name__ == "__main__":
    main()
