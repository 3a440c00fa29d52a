"""A live, read-only view of ``lb.registry`` that any process can hold."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Self

from pydantic import ValidationError

from longboat._logging import get_logger
from longboat._settings import KafkaSettings
from longboat.kafka import Admin, ConsumedRecord, Consumer, TopicPartition
from registry._model import AgentRecord, VersionEntry

__all__ = ["RegistryView", "apply_record"]

_log = get_logger("registry.view")


def apply_record(state: dict[str, AgentRecord], record: ConsumedRecord) -> None:
    """Fold one ``lb.registry`` record into ``state`` (a tombstone removes the agent)."""
    agent_id = (record.key or b"").decode(errors="replace")
    if record.value is None:
        state.pop(agent_id, None)
        return
    try:
        state[agent_id] = AgentRecord.model_validate_json(record.value)
    except ValidationError as e:
        # Only the registry writes this topic; a bad record is a bug to see, not to crash on.
        _log.error("registry_record_invalid", offset=record.offset, error_type=type(e).__name__)


class RegistryView:
    """Materialises the registry topic and follows it; ``get`` answers from memory."""

    def __init__(self, kafka: KafkaSettings, topic: str) -> None:
        """Create the view; ``async with`` starts following the topic."""
        self._kafka = kafka
        self.topic = topic
        self._state: dict[str, AgentRecord] = {}
        self._current = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._consumer: Consumer | None = None

    async def __aenter__(self) -> Self:
        async with Admin(self._kafka) as admin:
            count = await admin.partition_count(self.topic)
        partitions = [TopicPartition(self.topic, p) for p in range(count)]
        self._consumer = Consumer(self._kafka, isolation_level="read_committed")
        await self._consumer.start()
        self._consumer.assign(partitions)
        ends = await self._consumer.end_offsets(partitions)
        await self._consumer.seek_to_beginning(partitions)
        # The view's lifetime task: owned here, cancelled and awaited in __aexit__.
        self._task = asyncio.create_task(self._follow(partitions, ends))
        await self._current.wait()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _follow(
        self, partitions: list[TopicPartition], ends: dict[TopicPartition, int]
    ) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        while True:
            for record in await consumer.poll(timeout_ms=200):
                apply_record(self._state, record)
            if not self._current.is_set() and all(
                [await consumer.position(tp) >= ends[tp] for tp in partitions]
            ):
                self._current.set()

    def get(self, agent_id: str) -> AgentRecord | None:
        """The agent's record as last seen."""
        return self._state.get(agent_id)

    def lookup(self, agent_id: str, version: str) -> VersionEntry | None:
        """One version of one agent."""
        record = self._state.get(agent_id)
        return record.versions.get(version) if record else None

    def agents(self) -> list[AgentRecord]:
        """Every agent, by id."""
        return [self._state[k] for k in sorted(self._state)]
