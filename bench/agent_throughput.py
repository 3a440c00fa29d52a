"""Agent runtime throughput per durability mode vs a raw aiokafka exactly-once loop.

Both sides consume the same number of pre-published records from a one-partition topic on the
same broker in the same run and write one output per input with exactly-once semantics (the
raw loop: consume, then one transaction per poll batch with the outputs and
``send_offsets_to_transaction``). The agent runs a one-step handler with 100 ms checkpoints.
Also printed: sync-mode step latency p50/p99 and the peak RSS of an agent process.

    python -m bench.agent_throughput [--records N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from bench import bench_agent
from bench._broker import bench_broker, machine_line
from longboat import (
    Envelope,
    EnvelopeSerde,
    KafkaSettings,
    TopicNames,
    TopicSpec,
    configure_logging,
)
from longboat.agents import AgentRunner, AgentRuntimeSettings, AgentSettings
from longboat.kafka import Admin, Consumer, Producer
from longboat.kafka import TopicPartition as LbTopicPartition

REPO = Path(__file__).resolve().parent.parent


async def _topics(
    kafka: KafkaSettings, prefix: str, source: str, out: str, partitions: int = 1
) -> None:
    names = TopicNames(prefix)
    specs = names.system_topics(partitions=1) + names.agent_topics("bench", partitions=partitions)
    async with Admin(kafka) as admin:
        await admin.ensure_topics([*specs, TopicSpec(source, partitions), TopicSpec(out, 1)])


async def _publish(kafka: KafkaSettings, topic: str, n: int) -> None:
    serde = EnvelopeSerde()
    async with Producer(kafka) as producer:
        futures = []
        for i in range(n):
            encoded = serde.encode(Envelope(type="bench.in", source="/bench", data={"i": i}))
            futures.append(
                await producer.enqueue(
                    topic, encoded.value, key=str(i % 64).encode(), headers=encoded.headers
                )
            )
        await asyncio.gather(*futures)


async def _count_until(kafka: KafkaSettings, topic: str, n: int) -> float:
    """Wait until ``n`` committed records are on ``topic``; return the monotonic time then."""
    tp = LbTopicPartition(topic, 0)
    async with Consumer(kafka, isolation_level="read_committed") as consumer:
        consumer.assign([tp])
        seen = 0
        await consumer.seek_to_beginning([tp])
        while seen < n:
            seen += len(await consumer.poll(timeout_ms=200, max_records=5000))
    return time.monotonic()


async def _raw_loop(servers: str, source: str, out: str, n: int) -> float:
    group = f"bench.raw.{uuid.uuid4().hex[:6]}"
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=servers,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=servers, transactional_id=f"{group}.0", linger_ms=5
    )
    await consumer.start()
    await producer.start()
    try:
        started, done = time.monotonic(), 0
        while done < n:
            batches = await consumer.getmany(timeout_ms=100, max_records=500)
            records = [r for batch in batches.values() for r in batch]
            if not records:
                continue
            async with producer.transaction():
                last = records[-1]
                await producer.send_offsets_to_transaction(
                    {
                        TopicPartition(last.topic, last.partition): OffsetAndMetadata(
                            last.offset + 1, ""
                        )
                    },
                    group,
                )
                for r in records:
                    await producer.send(out, r.value, key=r.key, headers=list(r.headers))
            done += len(records)
        return n / (time.monotonic() - started)
    finally:
        await producer.stop()
        await consumer.stop()


async def _agent_run(kafka: KafkaSettings, mode: str, n: int, *, max_in_flight: int = 64) -> float:
    run = uuid.uuid4().hex[:6]
    prefix, source, out = f"b{run}.", f"bin.{run}", f"bout.{run}"
    await _topics(kafka, prefix, source, out)
    await _publish(kafka, source, n)
    settings = AgentSettings(
        kafka=kafka,
        topic_prefix=prefix,
        agent=AgentRuntimeSettings(checkpoint_ms=100, checkpoint_records=500, http_port=0),
    )
    agent = bench_agent.build(mode, source, out, max_in_flight=max_in_flight)
    async with AgentRunner(agent, settings) as runner:
        task = asyncio.create_task(runner.run())
        started = time.monotonic()
        finished = await _count_until(kafka, out, n)
        runner.shutdown()
        await task
    return n / (finished - started)


def _peak_rss_mb(servers: str, n: int) -> float:
    run = uuid.uuid4().hex[:6]
    prefix, source, out = f"r{run}.", f"rin.{run}", f"rout.{run}"
    kafka = KafkaSettings(bootstrap_servers=servers)
    asyncio.run(_topics(kafka, prefix, source, out))
    asyncio.run(_publish(kafka, source, n))
    env = {
        **os.environ,
        "LONGBOAT_KAFKA__BOOTSTRAP_SERVERS": servers,
        "LONGBOAT_TOPIC_PREFIX": prefix,
        "LONGBOAT_AGENT__HTTP_PORT": "0",
        "LONGBOAT_LOG_LEVEL": "warning",
        "BENCH_INPUT": source,
        "BENCH_OUTPUT": out,
        "BENCH_DURABILITY": "async",
        "PYTHONPATH": str(REPO),
    }
    longboat = str(Path(sys.executable).parent / "longboat")
    process = subprocess.Popen(
        [longboat, "run", "agent", "bench.bench_agent:agent", "--instance", "rss"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        asyncio.run(_count_until(kafka, out, n))
        status = Path(f"/proc/{process.pid}/status").read_text()
        hwm = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
        return int(hwm.split()[1]) / 1024
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def main() -> None:
    """Run every measurement and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args()
    n = args.records
    # Production logging (JSON, info: one line per record), written where it costs nothing else.
    configure_logging(level="info", fmt="json", stream=open(os.devnull, "w"))  # noqa: SIM115
    with bench_broker() as servers:
        kafka = KafkaSettings(bootstrap_servers=servers)

        async def throughput() -> tuple[float, dict[str, float]]:
            run = uuid.uuid4().hex[:6]
            source, out = f"rawin.{run}", f"rawout.{run}"
            await _topics(kafka, f"x{run}.", source, out)
            await _publish(kafka, source, n)
            raw = await _raw_loop(servers, source, out, n)
            modes = {}
            for mode in ("exit", "async", "sync"):
                bench_agent.STEP_LATENCIES.clear()
                modes[mode] = await _agent_run(kafka, mode, n)
            loaded.extend(bench_agent.STEP_LATENCIES)
            bench_agent.STEP_LATENCIES.clear()
            await _agent_run(kafka, "sync", min(n, 2000), max_in_flight=1)
            return raw, modes

        loaded: list[float] = []
        raw, modes = asyncio.run(throughput())
        latencies = sorted(bench_agent.STEP_LATENCIES)
        rss = _peak_rss_mb(servers, n)
    print(f"# agent throughput — {machine_line()}")
    print(
        f"# {n:,} records, one partition, one step per record, 100 ms checkpoints, max_in_flight=64"
    )
    print("| path | records/s | ratio to raw |")
    print("|---|---|---|")
    print(f"| raw aiokafka consume→transactional produce | {raw:,.0f} | 1.00 |")
    for mode in ("exit", "async", "sync"):
        print(f"| agent, durability={mode} | {modes[mode]:,.0f} | {modes[mode] / raw:.2f} |")
    for label, sample in (
        ("one record at a time", latencies),
        ("under load, 64 in flight", sorted(loaded)),
    ):
        p50 = statistics.median(sample) * 1000
        p99 = sample[int(len(sample) * 0.99) - 1] * 1000
        print(
            f"sync step latency, {label} (started+completed acked): "
            f"p50 {p50:.2f} ms, p99 {p99:.2f} ms over {len(sample):,} steps"
        )
    print(f"\npeak RSS of an agent process (async mode, {n:,} records): {rss:.0f} MiB")


if __name__ == "__main__":
    main()
