"""Materialise a topic and keep following it (live views: registry, memory)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from types import TracebackType
from typing import Generic, Self, TypeVar

from longboat._codec import RecordCodec
from longboat._settings import KafkaSettings
from longboat.kafka._admin import Admin
from longboat.kafka._consumer import Consumer, IsolationLevel
from longboat.kafka._reading import Decoded, decoded
from longboat.kafka._records import TopicPartition

__all__ = ["TopicFollower"]

M = TypeVar("M")


class TopicFollower(Generic[M]):
    """Applies every record of a model-valued topic, from the beginning, until closed.

    Records go through ``codec``: ``apply`` gets models and tombstones (``value is None``);
    a record the codec cannot decode is skipped and logged, never applied and never raised
    (a junk record on a compacted topic must not stop the view, now or after a restart).
    ``async with`` returns once the records that existed at entry are applied (the view is
    current); later records are applied as they arrive.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        topic: str,
        codec: RecordCodec[M],
        apply: Callable[[Decoded[M]], None],
        *,
        isolation_level: IsolationLevel = "read_committed",
    ) -> None:
        """Create the follower; nothing connects until ``async with``."""
        self._kafka = kafka
        self.topic = topic
        self._codec = codec
        self._apply = apply
        self._isolation = isolation_level
        self._consumer: Consumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._current = asyncio.Event()

    async def __aenter__(self) -> Self:
        async with Admin(self._kafka) as admin:
            count = await admin.partition_count(self.topic)
        partitions = [TopicPartition(self.topic, p) for p in range(count)]
        self._consumer = Consumer(self._kafka, isolation_level=self._isolation)
        await self._consumer.start()
        try:
            self._consumer.assign(partitions)
            ends = await self._consumer.end_offsets(partitions)
            await self._consumer.seek_to_beginning(partitions)
        except BaseException:
            await self._consumer.stop()
            raise
        # The follower's lifetime task: owned here, cancelled and awaited in __aexit__.
        self._task = asyncio.create_task(self._follow(self._consumer, partitions, ends))
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
        self, consumer: Consumer, partitions: list[TopicPartition], ends: dict[TopicPartition, int]
    ) -> None:
        while True:
            for record in await consumer.poll(timeout_ms=200):
                if (item := decoded(record, self._codec)) is not None:
                    self._apply(item)
            if not self._current.is_set() and all(
                [await consumer.position(tp) >= ends[tp] for tp in partitions]
            ):
                self._current.set()
