"""Coordinator: approval resume latency and workflows/s, beside a raw aiokafka EOS loop.

1. Resume latency: workflows wait at an approval gate; approvals are published one at a time
   (10 per second, so nothing queues) and the time until the next task appears on
   ``lb.tasks.<agent>`` (read_committed) is measured: signal → router → coordinator → task.
2. Throughput: N three-step workflows (three specialist tasks each) from trigger to completed.
3. Baseline: raw aiokafka consume → transactional produce on the same broker, records/s.

    python -m bench.coordinator_bench [--workflows 300]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from pathlib import Path

from pydantic import SecretStr

from bench._broker import bench_broker, machine_line
from bench.agent_throughput import _publish, _raw_loop, _topics
from bench.specialists import AGENTS, echo
from longboat import (
    Envelope,
    EnvelopeSerde,
    KafkaSettings,
    TopicNames,
    TopicSpec,
    configure_logging,
)
from longboat.agents import AgentRunner, AgentRuntimeSettings, AgentSettings
from longboat.coordinator import (
    CoordinatorService,
    CoordinatorServiceSettings,
    CoordinatorSettings,
    SignalData,
    signal_event,
)
from longboat.kafka import Admin, Consumer, Producer, TopicPartition

FLOW = """
name: bench
version: 1
trigger: {{topic: {topic}, type: bench.start, workflow_id: "${{event.data.id}}"}}
steps:
  - {{id: a, task: {{agent: stepa, input: {{id: "${{event.data.id}}"}}}}}}
  - id: gate
    when: "event.data.gate"
    approval: {{prompt: "go?"}}
  - {{id: b, task: {{agent: stepb, input: {{id: "${{event.data.id}}"}}}}}}
  - {{id: c, task: {{agent: stepc, input: {{id: "${{event.data.id}}"}}}}}}
"""


async def _start(
    kafka: KafkaSettings, names: TopicNames, topic: str, items: list[tuple[str, bool]]
) -> None:
    serde = EnvelopeSerde()
    async with Producer(kafka) as producer:
        for workflow_id, gate in items:
            encoded = serde.encode(
                Envelope(
                    type="bench.start", source="/bench", data={"id": workflow_id, "gate": gate}
                )
            )
            await producer.send(
                topic, encoded.value, key=workflow_id.encode(), headers=encoded.headers
            )


async def _count(service: CoordinatorService, status: str) -> int:
    return sum(1 for r in service.engine.all_records() if r.state.status == status)


async def _wait(service: CoordinatorService, status: str, n: int, timeout_s: float = 600) -> float:
    deadline = time.monotonic() + timeout_s
    while await _count(service, status) < n:
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"only {await _count(service, status)} of {n} workflows reached {status}"
            )
        await asyncio.sleep(0.05)
    return time.monotonic()


async def _resume_latencies(kafka: KafkaSettings, names: TopicNames, ids: list[str]) -> list[float]:
    serde = EnvelopeSerde()
    tp = TopicPartition(names.tasks("stepb"), 0)
    latencies: list[float] = []
    async with (
        Consumer(kafka, isolation_level="read_committed") as watcher,
        Producer(kafka, linger_ms=0) as producer,
    ):
        watcher.assign([tp])
        watcher.seek(tp, (await watcher.end_offsets([tp]))[tp])
        for workflow_id in ids:
            encoded = serde.encode(
                signal_event(workflow_id, SignalData(signal="approve", by="bench"))
            )
            sent = time.perf_counter()
            await producer.send(
                names.signals, encoded.value, key=workflow_id.encode(), headers=encoded.headers
            )
            seen = False
            while not seen:
                for record in await watcher.poll(timeout_ms=20):
                    seen = seen or record.key == workflow_id.encode()
            latencies.append(time.perf_counter() - sent)
            await asyncio.sleep(0.1)
    return latencies


async def workflow_topics(
    kafka: KafkaSettings, tag: str, *, partitions: int = 1
) -> tuple[TopicNames, str]:
    """Fresh names (prefix ``<tag><run>.``) with every topic of the bench fleet created with
    ``partitions`` partitions each, and the trigger topic."""
    run = uuid.uuid4().hex[:6]
    names, topic = TopicNames(f"{tag}{run}."), f"{tag}in.{run}"
    specs = names.system_topics(partitions=partitions)
    for agent in (*AGENTS, "coordinator", "coordinator-router"):
        specs += names.agent_topics(agent, partitions=partitions)
    async with Admin(kafka) as admin:
        await admin.ensure_topics([*specs, TopicSpec(topic, partitions)])
    return names, topic


async def _run(kafka: KafkaSettings, n: int) -> tuple[list[float], float, int]:
    names, topic = await workflow_topics(kafka, "c")
    prefix = names.prefix
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "bench.yaml").write_text(FLOW.format(topic=topic))
        settings = CoordinatorSettings(
            kafka=kafka,
            topic_prefix=prefix,
            operator_token=SecretStr(secrets.token_hex(16)),  # Mission Control needs one
            coordinator=CoordinatorServiceSettings(
                definitions=Path(folder), port=0, instance="bench", checkpoint_ms=20
            ),
        )
        agent_settings = [
            AgentSettings(
                kafka=kafka,
                topic_prefix=prefix,
                agent=AgentRuntimeSettings(instance=f"b{i}", http_port=0, checkpoint_ms=20),
            )
            for i in range(len(AGENTS))
        ]
        runners = [
            AgentRunner(echo(name), s) for name, s in zip(AGENTS, agent_settings, strict=True)
        ]
        async with AsyncExitStack() as stack:
            service = await stack.enter_async_context(CoordinatorService(settings))
            for runner in runners:
                await stack.enter_async_context(runner)
            async with asyncio.TaskGroup() as group:
                for each in (service, *runners):
                    group.create_task(each.run())
                gated = [f"g-{i}" for i in range(50)]
                await _start(kafka, names, topic, [(w, True) for w in gated])
                await _wait(service, "waiting_approval", len(gated))
                latencies = await _resume_latencies(kafka, names, gated)
                await _wait(service, "completed", len(gated))
                started = time.monotonic()
                await _start(kafka, names, topic, [(f"w-{i}", False) for i in range(n)])
                finished = await _wait(service, "completed", len(gated) + n)
                for each in (service, *runners):
                    each.shutdown()
    return latencies, n / (finished - started), n


def main() -> None:
    """Run and print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workflows", type=int, default=300)
    args = parser.parse_args()
    configure_logging(level="warning", fmt="json", stream=open("/dev/null", "w"))  # noqa: SIM115
    with bench_broker() as servers:
        kafka = KafkaSettings(bootstrap_servers=servers)
        latencies, rate, n = asyncio.run(_run(kafka, args.workflows))

        async def baseline() -> float:
            run = uuid.uuid4().hex[:6]
            source, out = f"rawin.{run}", f"rawout.{run}"
            await _topics(kafka, f"x{run}.", source, out)
            await _publish(kafka, source, 5000)
            return await _raw_loop(servers, source, out, 5000)

        raw = asyncio.run(baseline())
    ordered = sorted(latencies)
    p50, p99 = (
        statistics.median(ordered) * 1000,
        ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000,
    )
    print(f"# coordinator — {machine_line()}")
    print(
        f"approval resume (signal published → next task committed), {len(ordered)} approvals: "
        f"p50 {p50:.0f} ms, p99 {p99:.0f} ms"
    )
    print(
        f"three-step workflows, trigger to completed: {rate:.1f} workflows/s ({n}, one partition)"
    )
    # Each workflow is 4 coordinator events (started + 3 results), each one EOS transaction input.
    events = rate * 4
    print(
        f"coordinator events: {events:,.0f}/s vs raw aiokafka EOS loop {raw:,.0f} records/s "
        f"(ratio {events / raw:.2f})"
    )


if __name__ == "__main__":
    main()
