"""Helpers for agent-runtime tests: topics, publishing, reading outputs, running in-process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import pytest
from pydantic import JsonValue

from longboat import Envelope, EnvelopeSerde, KafkaSettings, Settings, TopicNames, TopicSpec
from longboat.agents import Agent, AgentRunner, AgentSettings
from longboat.kafka import Admin, ConsumedRecord, Consumer, Producer, TopicPartition, read_to_end
from tests.helpers import assert_eventually


@dataclass
class AgentWorld:
    """Topics and helpers of one agent test (unique names)."""

    settings: Settings
    names: TopicNames
    kafka: KafkaSettings
    input_topic: str
    output_topic: str

    def agent_settings(self, **runtime: object) -> AgentSettings:
        """Agent settings on this test's broker and prefix, fast checkpoints, any free port."""
        options: dict[str, object] = {
            "checkpoint_ms": 50,
            "http_port": 0,
            "session_timeout_ms": 6000,
            "shutdown_grace_s": 5,
            **runtime,
        }
        return AgentSettings(kafka=self.kafka, topic_prefix=self.names.prefix, agent=options)  # type: ignore[arg-type]

    async def create(self, agent: str, *, partitions: int = 1) -> None:
        """Create the system, agent, input and output topics."""
        specs = self.names.system_topics(partitions=1) + self.names.agent_topics(
            agent, partitions=partitions
        )
        specs += [TopicSpec(self.input_topic, partitions), TopicSpec(self.output_topic, 1)]
        async with Admin(self.kafka) as admin:
            await admin.ensure_topics(specs)

    async def publish(
        self, items: Sequence[tuple[str | None, JsonValue]], *, topic: str | None = None
    ) -> list[Envelope]:
        """Publish ``(key, data)`` pairs as envelopes to the input topic."""
        serde = EnvelopeSerde()
        events = []
        async with Producer(self.kafka) as producer:
            for key, data in items:
                event = Envelope(type="test.input", source="/tests", data=data)
                encoded = serde.encode(event)
                await producer.send(
                    topic or self.input_topic,
                    encoded.value,
                    key=key.encode() if key else None,
                    headers=encoded.headers,
                )
                events.append(event)
        return events

    async def publish_raw(self, value: bytes, *, key: bytes | None = None) -> None:
        """Publish bytes that are not an envelope."""
        async with Producer(self.kafka) as producer:
            await producer.send(self.input_topic, value, key=key)

    async def read(self, topic: str, expect: int, *, timeout_s: float = 30) -> list[Envelope]:
        """Every committed envelope on ``topic``, once at least ``expect`` are there."""
        records = await read_committed(self.kafka, topic, expect, timeout_s=timeout_s)
        serde = EnvelopeSerde()
        return [serde.decode(r.value, r.headers) for r in records]


async def read_committed(
    kafka: KafkaSettings, topic: str, expect: int, *, timeout_s: float = 30
) -> list[ConsumedRecord]:
    """All read_committed records of ``topic`` (every partition), waiting for ``expect``."""
    async with Admin(kafka) as admin:
        count = await admin.partition_count(topic)
    tps = [TopicPartition(topic, p) for p in range(count)]
    seen: list[ConsumedRecord] = []
    async with Consumer(kafka, isolation_level="read_committed") as consumer:
        consumer.assign(tps)
        await consumer.seek_to_beginning(tps)

        async def more() -> int:
            seen.extend(await consumer.poll(timeout_ms=200))
            return len(seen)

        await assert_eventually(
            more, lambda n: n >= expect, timeout_s=timeout_s, what=f"{expect} records on {topic}"
        )
        ends = await consumer.end_offsets(tps)
        for _ in range(50):  # drain whatever else is already there
            if all([await consumer.position(tp) >= ends[tp] for tp in tps]):
                break
            seen.extend(await consumer.poll(timeout_ms=100))
    return seen


async def read_all(kafka: KafkaSettings, topic: str) -> list[ConsumedRecord]:
    """Everything on ``topic`` now, read_uncommitted (for non-transactional topics)."""
    return [r async for r in read_to_end(kafka, topic, isolation_level="read_uncommitted")]


@pytest.fixture
def world(settings: Settings, unique: str) -> AgentWorld:
    """A fresh set of topic names for one agent test."""
    names = TopicNames(settings.topic_prefix)
    return AgentWorld(settings, names, settings.kafka, f"in.{unique}", f"out.{unique}")


@contextlib.asynccontextmanager
async def running(agent: Agent, settings: AgentSettings) -> AsyncIterator[AgentRunner]:
    """Run ``agent`` in this process until the block ends (then shut it down cleanly)."""
    async with AgentRunner(agent, settings) as runner:
        task = asyncio.create_task(runner.run())
        try:
            await assert_eventually(
                lambda: _ready(runner, task), bool, timeout_s=30, what="agent ready"
            )
            yield runner
        finally:
            runner.shutdown()
            await task


async def _ready(runner: AgentRunner, task: asyncio.Task[None]) -> bool:
    if task.done():
        task.result()  # surface the runner's error instead of waiting for the timeout
    return runner.ready()
