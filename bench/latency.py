"""Latency at low load and throughput at full load, adaptive checkpoints against the timer.

Every figure is measured with default settings (100 ms agent checkpoints, 50 ms coordinator
checkpoints) twice in the same run: with adaptive checkpoints (the default: an idle partition
commits as soon as its run completes) and with the timer alone (``checkpoint_adaptive=False``,
the behaviour before adaptive checkpoints). The baseline is a raw aiokafka exactly-once loop
(consume, then one transaction per poll batch) on the same broker at the same rate.

1. Event → output of a one-step agent (sync durability, the default), one event every 50 ms:
   the time from the publish to the output being readable (read_committed).
2. Trigger → completed of a three-step workflow (coordinator + three specialists), one workflow
   at a time.
3. Throughput at full load: 10,000 pre-published records through the one-step agent.

    python -m bench.latency [--events 200] [--workflows 40] [--records 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import OffsetAndMetadata, TopicPartition
from pydantic import SecretStr

from bench import bench_agent
from bench._broker import bench_broker, machine_line
from bench.agent_throughput import _count_until, _publish, _topics
from bench.coordinator_bench import FLOW, _start, workflow_topics
from bench.specialists import AGENTS, echo
from longboat import (
    Envelope,
    EnvelopeSerde,
    KafkaSettings,
    TopicSpec,
    configure_logging,
)
from longboat.agents import AgentRunner, AgentRuntimeSettings, AgentSettings
from longboat.coordinator import CoordinatorService, CoordinatorServiceSettings, CoordinatorSettings
from longboat.kafka import Admin, Consumer, Producer
from longboat.kafka import TopicPartition as LbTopicPartition

GAP_S = 0.05  # low load: one event every 50 ms


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000


def _summary(values: list[float]) -> str:
    return f"p50 {statistics.median(values) * 1000:6.1f} ms  p99 {_pct(values, 0.99):6.1f} ms"


async def _paced(kafka: KafkaSettings, source: str, out: str, n: int) -> list[float]:
    """Publish ``n`` events ``GAP_S`` apart; the publish → readable-output time of each."""
    serde = EnvelopeSerde()
    sent: dict[int, float] = {}
    latencies: list[float] = []
    tp = LbTopicPartition(out, 0)
    async with (
        Consumer(kafka, isolation_level="read_committed") as watcher,
        Producer(kafka, linger_ms=0) as producer,
    ):
        watcher.assign([tp])
        watcher.seek(tp, (await watcher.end_offsets([tp]))[tp])

        async def watch() -> None:
            while len(latencies) < n:
                for record in await watcher.poll(timeout_ms=5):
                    got = time.perf_counter()
                    i = EnvelopeSerde().decode(record.value, record.headers).data
                    assert isinstance(i, dict)
                    latencies.append(got - sent[int(str(i["i"]))])

        watching = asyncio.create_task(watch())
        for i in range(n):
            encoded = serde.encode(Envelope(type="bench.in", source="/bench", data={"i": i}))
            sent[i] = time.perf_counter()
            await producer.send(source, encoded.value, key=str(i).encode(), headers=encoded.headers)
            await asyncio.sleep(GAP_S)
        await asyncio.wait_for(watching, timeout=60)
    return latencies


async def _agent_latency(kafka: KafkaSettings, n: int, *, adaptive: bool) -> list[float]:
    run = uuid.uuid4().hex[:6]
    prefix, source, out = f"l{run}.", f"lin.{run}", f"lout.{run}"
    await _topics(kafka, prefix, source, out)
    settings = AgentSettings(
        kafka=kafka,
        topic_prefix=prefix,
        agent=AgentRuntimeSettings(http_port=0, checkpoint_adaptive=adaptive),
    )
    async with AgentRunner(bench_agent.build("sync", source, out), settings) as runner:
        task = asyncio.create_task(runner.run())
        await _paced(kafka, source, out, 5)  # warm-up: group joined, producers ready
        latencies = await _paced(kafka, source, out, n)
        runner.shutdown()
        await task
    return latencies


async def _raw_latency(servers: str, kafka: KafkaSettings, n: int) -> list[float]:
    """The raw aiokafka EOS loop (a transaction per poll batch) under the same paced load."""
    run = uuid.uuid4().hex[:6]
    source, out, group = f"rin.{run}", f"rout.{run}", f"raw.{run}"
    async with Admin(kafka) as admin:
        await admin.ensure_topics([TopicSpec(source, 1), TopicSpec(out, 1)])
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=servers,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    producer = AIOKafkaProducer(bootstrap_servers=servers, transactional_id=f"{group}.0")
    await consumer.start()
    await producer.start()

    async def loop() -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=100, max_records=500)
            records = [r for batch in batches.values() for r in batch]
            if not records:
                continue
            async with producer.transaction():
                last = records[-1]
                position = {
                    TopicPartition(last.topic, last.partition): OffsetAndMetadata(
                        last.offset + 1, ""
                    )
                }
                await producer.send_offsets_to_transaction(position, group)
                for r in records:
                    await producer.send(out, r.value, key=r.key, headers=list(r.headers))

    looping = asyncio.create_task(loop())
    try:
        await _paced(kafka, source, out, 5)
        return await _paced(kafka, source, out, n)
    finally:
        looping.cancel()
        await asyncio.gather(looping, return_exceptions=True)
        await producer.stop()
        await consumer.stop()


async def _workflow_latency(kafka: KafkaSettings, n: int, *, adaptive: bool) -> list[float]:
    names, topic = await workflow_topics(kafka, "w")
    prefix = names.prefix
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "bench.yaml").write_text(FLOW.format(topic=topic))
        coordinator = CoordinatorServiceSettings(definitions=Path(folder), port=0, instance="lat")
        settings = CoordinatorSettings(
            kafka=kafka,
            topic_prefix=prefix,
            operator_token=SecretStr(secrets.token_hex(16)),
            coordinator=coordinator.model_copy(update={"checkpoint_adaptive": adaptive}),
        )
        runners = [
            AgentRunner(
                echo(name),
                AgentSettings(
                    kafka=kafka,
                    topic_prefix=prefix,
                    agent=AgentRuntimeSettings(
                        instance=f"l{i}", http_port=0, checkpoint_adaptive=adaptive
                    ),
                ),
            )
            for i, name in enumerate(AGENTS)
        ]
        latencies: list[float] = []
        async with AsyncExitStack() as stack:
            service = await stack.enter_async_context(CoordinatorService(settings))
            for runner in runners:
                await stack.enter_async_context(runner)
            async with asyncio.TaskGroup() as group:
                for each in (service, *runners):
                    group.create_task(each.run())
                watcher = AIOKafkaConsumer(
                    names.workflows_state,
                    bootstrap_servers=kafka.bootstrap_servers,
                    isolation_level="read_committed",
                    auto_offset_reset="latest",
                )
                await watcher.start()
                try:
                    for i in range(n + 3):  # the first three warm the group up
                        workflow = f"w-{i}"
                        started = time.perf_counter()
                        await _start(kafka, names, topic, [(workflow, False)])
                        await _completed(watcher, workflow)
                        if i >= 3:
                            latencies.append(time.perf_counter() - started)
                finally:
                    await watcher.stop()
                for each in (service, *runners):
                    each.shutdown()
    return latencies


async def _completed(watcher: AIOKafkaConsumer, workflow: str) -> None:
    """Wait until the workflow's committed state (read_committed) says completed."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        batches = await watcher.getmany(timeout_ms=5)
        for record in (r for batch in batches.values() for r in batch):
            mine = record.key == workflow.encode() and record.value is not None
            if mine and json.loads(record.value)["state"]["status"] == "completed":
                return
    raise RuntimeError(f"workflow {workflow} did not complete in 60 s")


async def _throughput(kafka: KafkaSettings, n: int, *, adaptive: bool) -> float:
    run = uuid.uuid4().hex[:6]
    prefix, source, out = f"t{run}.", f"tin.{run}", f"tout.{run}"
    await _topics(kafka, prefix, source, out)
    await _publish(kafka, source, n)
    settings = AgentSettings(
        kafka=kafka,
        topic_prefix=prefix,
        agent=AgentRuntimeSettings(http_port=0, checkpoint_adaptive=adaptive),
    )
    async with AgentRunner(bench_agent.build("sync", source, out), settings) as runner:
        task = asyncio.create_task(runner.run())
        started = time.monotonic()
        finished = await _count_until(kafka, out, n)
        runner.shutdown()
        await task
    return n / (finished - started)


def main() -> None:
    """Run and print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--workflows", type=int, default=40)
    parser.add_argument("--records", type=int, default=10_000)
    args = parser.parse_args()
    configure_logging(level="warning", fmt="json", stream=open("/dev/null", "w"))  # noqa: SIM115
    with bench_broker() as servers:
        kafka = KafkaSettings(bootstrap_servers=servers)
        print(f"# latency — {machine_line()}")
        raw = asyncio.run(_raw_latency(servers, kafka, args.events))
        print(f"event → output, raw aiokafka EOS loop       : {_summary(raw)}")
        for adaptive in (True, False):
            label = "adaptive" if adaptive else "timer   "
            agent = asyncio.run(_agent_latency(kafka, args.events, adaptive=adaptive))
            ratio = statistics.median(agent) / statistics.median(raw)
            print(
                f"event → output, one-step agent, {label}   : {_summary(agent)}"
                f"  (p50 {ratio:.1f}x raw)"
            )
        for adaptive in (True, False):
            label = "adaptive" if adaptive else "timer   "
            flows = asyncio.run(_workflow_latency(kafka, args.workflows, adaptive=adaptive))
            print(f"three-step workflow trigger → completed, {label}: {_summary(flows)}")
        for adaptive in (True, False):
            label = "adaptive" if adaptive else "timer   "
            rate = asyncio.run(_throughput(kafka, args.records, adaptive=adaptive))
            print(f"full load, one-step sync agent, {label}: {rate:,.0f} records/s")


if __name__ == "__main__":
    main()
