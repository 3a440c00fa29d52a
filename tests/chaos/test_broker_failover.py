"""A three-broker cluster loses the leader of the busiest partitions while an agent works.

The cluster is the one `longboat dev up --brokers 3` starts (KRaft, loopback, replication
factor 3, ``min.insync.replicas=2``). An agent turns every input into one output while inputs
keep arriving; the broker leading most of the partitions the run depends on (the input
partitions, the output, the transaction log, the group's offsets) is SIGKILLed mid-run. Every
input must still give exactly one committed output.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import JsonValue

from longboat import Envelope, EnvelopeSerde, KafkaSettings, TopicNames, TopicSpec
from longboat.agents import Agent, AgentRunner, AgentSettings, Context
from longboat.devinfra import DevPorts, DevStack, KafkaNode, free_port
from longboat.errors import InfraError
from longboat.kafka import Admin, Producer
from tests.conftest import _unavailable
from tests.helpers import assert_eventually
from tests.integration.agents.conftest import read_committed

BEFORE, DURING = 300, 300


@pytest.fixture
def cluster(
    infra_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[KafkaNode]]:
    """`longboat dev up --brokers 3`: three KRaft nodes on loopback, each broker and controller."""
    monkeypatch.setenv("LONGBOAT_CACHE_DIR", str(infra_cache))  # the suite's cached jars and OPA
    stack = DevStack(tmp_path / "home")
    try:
        state = stack.up(
            ports=DevPorts(kafka=free_port(), controller=free_port(), opa=free_port()), brokers=3
        )
    except InfraError as e:
        _unavailable(str(e))
    try:
        assert state.brokers == 3
        assert state.kafka_running
        ports = [state.kafka_port, *state.extra_kafka_ports]
        yield [
            KafkaNode(pid=pid, port=port, controller_port=0, log=stack.dev)
            for pid, port in zip(state.kafka_pids, ports, strict=True)
        ]
    finally:
        stack.down()


def _echo(input_topic: str, output_topic: str) -> Agent:
    agent = Agent("echo", topics=[input_topic], max_in_flight=16)

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        value: JsonValue = await ctx.step("copy", lambda data: data, event.data)
        ctx.emit(output_topic, event.caused(type="test.output", source="/t", data=value))
        return None

    return agent


async def _publish(kafka: KafkaSettings, topic: str, start: int, n: int, gap_s: float) -> None:
    serde = EnvelopeSerde()
    async with Producer(kafka) as producer:
        for i in range(start, start + n):
            encoded = serde.encode(Envelope(type="test.input", source="/t", data={"i": i}))
            await producer.send(topic, encoded.value, key=str(i).encode(), headers=encoded.headers)
            if gap_s:
                await asyncio.sleep(gap_s)


async def _busiest_leader(servers: str, topics: list[str]) -> int:
    """The node id leading the most partitions of ``topics``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    leaders = Counter(
        partition["leader"] for topic in described for partition in topic["partitions"]
    )
    return int(leaders.most_common(1)[0][0])


async def test_losing_the_busiest_leader_loses_and_repeats_nothing(
    cluster: list[KafkaNode], unique: str
) -> None:
    """SIGKILL of the leading broker mid-run: every input still has exactly one output."""
    servers = ",".join(node.bootstrap_servers for node in cluster)
    kafka = KafkaSettings(bootstrap_servers=servers, request_timeout_ms=15_000)
    names = TopicNames(f"t{unique}.")
    source, out = f"in.{unique}", f"out.{unique}"
    async with Admin(kafka) as admin:
        assert await admin.broker_count() == 3
        await admin.ensure_topics(
            names.system_topics(partitions=1)
            + names.agent_topics("echo", partitions=3)
            + [TopicSpec(source, 3), TopicSpec(out, 1)]
        )
        assert (await admin.topic_config(out)).get("min.insync.replicas") == "2"
    await _publish(kafka, source, 0, BEFORE, 0)
    settings = AgentSettings(
        kafka=kafka,
        topic_prefix=names.prefix,
        agent={"checkpoint_ms": 50, "http_port": 0, "session_timeout_ms": 10_000},  # type: ignore[arg-type]
    )
    async with AgentRunner(_echo(source, out), settings) as runner:
        running = asyncio.create_task(runner.run())
        try:
            await read_committed(kafka, out, BEFORE // 3, timeout_s=120)
            publishing = asyncio.create_task(_publish(kafka, source, BEFORE, DURING, 0.01))
            victim = await _busiest_leader(
                servers, [source, out, "__transaction_state", "__consumer_offsets"]
            )
            os.kill(cluster[victim - 1].pid, signal.SIGKILL)
            await publishing
            records = await read_committed(kafka, out, BEFORE + DURING, timeout_s=240)
        finally:
            runner.shutdown()
            await running
    serde = EnvelopeSerde()
    seen: Counter[int] = Counter()
    for record in records:
        data = serde.decode(record.value, record.headers).data
        assert isinstance(data, dict)
        seen[int(str(data["i"]))] += 1
    assert sorted(seen) == list(range(BEFORE + DURING)), "an input has no output"
    assert max(seen.values()) == 1, f"duplicated outputs: {[i for i, n in seen.items() if n > 1]}"
    async with Admin(kafka) as admin:
        await assert_eventually(
            admin.broker_count, lambda n: n == 2, timeout_s=60, what="the victim left the cluster"
        )
