"""A typed consumer with manual commits only."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Literal, Self

from aiokafka import AIOKafkaConsumer
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.structs import OffsetAndMetadata
from aiokafka.structs import TopicPartition as AkTopicPartition

from longboat._settings import KafkaSettings
from longboat.errors import ConfigError
from longboat.kafka._client_config import client_kwargs
from longboat.kafka._errors import translate_kafka_errors
from longboat.kafka._records import ConsumedRecord, RebalanceHandler, TopicPartition

__all__ = ["Consumer"]

IsolationLevel = Literal["read_committed", "read_uncommitted"]


class Consumer:
    """A consumer that never commits on its own: offsets move only when the caller commits.

    Subscribe through ``topics`` (group-managed when ``group_id`` is set) or call
    :meth:`assign` for manual assignment.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        topics: Sequence[str] = (),
        group_id: str | None = None,
        group_instance_id: str | None = None,
        from_beginning: bool = False,
        isolation_level: IsolationLevel = "read_committed",
        max_poll_records: int = 500,
        session_timeout_ms: int = 45_000,
        max_poll_interval_ms: int = 300_000,
        rebalance: RebalanceHandler | None = None,
    ) -> None:
        """Create a consumer; nothing connects until :meth:`start`.

        Args:
            kafka: Connection settings.
            topics: Topics to subscribe to.
            group_id: The consumer group; ``None`` reads without a group (no commits).
            group_instance_id: Static membership id, so a restart keeps its partitions.
            from_beginning: Where to start when the group has no committed offset.
            isolation_level: ``read_committed`` hides aborted and open transactions.
            max_poll_records: The most records one :meth:`poll` returns.
            session_timeout_ms: How long the group waits for a silent member.
            max_poll_interval_ms: The longest a rebalance callback may take.
            rebalance: Called around rebalances (group subscriptions only).
        """
        if group_instance_id is not None and group_id is None:
            raise ConfigError("group_instance_id needs a group_id")
        if max_poll_records < 1:
            raise ConfigError(f"max_poll_records={max_poll_records} must be >= 1")
        self._servers = kafka.bootstrap_servers
        self.group_id = group_id
        if rebalance is not None and (group_id is None or not topics):
            raise ConfigError("a rebalance handler needs a group_id and topics")
        self._consumer = AIOKafkaConsumer(
            *(() if rebalance is not None else topics),
            **client_kwargs(kafka),
            group_id=group_id,
            group_instance_id=group_instance_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest" if from_beginning else "latest",
            isolation_level=isolation_level,
            max_poll_records=max_poll_records,
            session_timeout_ms=session_timeout_ms,
            max_poll_interval_ms=max_poll_interval_ms,
        )
        if rebalance is not None:
            self._consumer.subscribe(list(topics), listener=_Listener(rebalance))
        self._started = False

    async def start(self) -> None:
        """Connect and (with topics) join the group."""
        with translate_kafka_errors(self._servers):
            try:
                await self._consumer.start()
            except BaseException:
                await self._consumer.stop()
                raise
        self._started = True

    async def stop(self) -> None:
        """Leave the group and disconnect; safe to call twice. Commits nothing."""
        if self._started:
            self._started = False
            with translate_kafka_errors(self._servers):
                await self._consumer.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        """Read exactly these partitions (no group management)."""
        with translate_kafka_errors(self._servers):
            self._consumer.assign([AkTopicPartition(tp.topic, tp.partition) for tp in partitions])

    def assignment(self) -> set[TopicPartition]:
        """The partitions currently assigned to this consumer."""
        return {TopicPartition(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    async def seek_to_beginning(self, partitions: Iterable[TopicPartition] = ()) -> None:
        """Rewind the given (default: all assigned) partitions to their first stored offset."""
        targets = list(partitions) or sorted(self.assignment())
        # An explicit seek to the looked-up offset, not aiokafka's lazy reset: that reset can
        # lose a race with the reset strategy applied at assign() (observed: position at end).
        for tp, offset in (await self.beginning_offsets(targets)).items():
            self.seek(tp, offset)

    async def poll(
        self, *, timeout_ms: int = 1000, max_records: int | None = None
    ) -> list[ConsumedRecord]:
        """Wait up to ``timeout_ms`` for records; returns them in offset order per partition."""
        with translate_kafka_errors(self._servers):
            batches = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        return [
            ConsumedRecord(
                topic=r.topic,
                partition=r.partition,
                offset=r.offset,
                key=r.key,
                value=r.value,
                headers=tuple((k, bytes(v)) for k, v in r.headers),
                timestamp_ms=r.timestamp,
            )
            for records in batches.values()
            for r in records
        ]

    def seek(self, tp: TopicPartition, offset: int) -> None:
        """Read ``tp`` from ``offset`` on the next poll."""
        with translate_kafka_errors(self._servers):
            self._consumer.seek(AkTopicPartition(tp.topic, tp.partition), offset)

    async def position(self, tp: TopicPartition) -> int:
        """The offset of the next record :meth:`poll` will return for ``tp``."""
        with translate_kafka_errors(self._servers):
            offset: int = await self._consumer.position(AkTopicPartition(tp.topic, tp.partition))
        return offset

    def pause(self, partitions: Iterable[TopicPartition]) -> None:
        """Stop fetching from these partitions until :meth:`resume` (back-pressure)."""
        self._consumer.pause(*(AkTopicPartition(tp.topic, tp.partition) for tp in partitions))

    def resume(self, partitions: Iterable[TopicPartition]) -> None:
        """Fetch from these paused partitions again."""
        self._consumer.resume(*(AkTopicPartition(tp.topic, tp.partition) for tp in partitions))

    def highwater(self, tp: TopicPartition) -> int | None:
        """The partition's end offset as of the last fetch (``None`` before any fetch)."""
        value: int | None = self._consumer.highwater(AkTopicPartition(tp.topic, tp.partition))
        return value

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Commit the *next* offsets to read for the given partitions."""
        raw = {
            AkTopicPartition(tp.topic, tp.partition): OffsetAndMetadata(offset, "")
            for tp, offset in offsets.items()
        }
        with translate_kafka_errors(self._servers):
            await self._consumer.commit(raw)

    async def committed(self, tp: TopicPartition) -> int | None:
        """The group's committed offset for ``tp``, or ``None``."""
        with translate_kafka_errors(self._servers):
            offset: int | None = await self._consumer.committed(
                AkTopicPartition(tp.topic, tp.partition)
            )
        return offset

    async def beginning_offsets(
        self, partitions: Iterable[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """The first offset still stored in each partition."""
        raw = [AkTopicPartition(tp.topic, tp.partition) for tp in partitions]
        with translate_kafka_errors(self._servers):
            starts = await self._consumer.beginning_offsets(raw)
        return {TopicPartition(tp.topic, tp.partition): off for tp, off in starts.items()}

    async def end_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """The offset after the last (stable) record of each partition."""
        raw = [AkTopicPartition(tp.topic, tp.partition) for tp in partitions]
        with translate_kafka_errors(self._servers):
            ends = await self._consumer.end_offsets(raw)
        return {TopicPartition(tp.topic, tp.partition): off for tp, off in ends.items()}

    async def offsets_for_times(
        self, partitions: Iterable[TopicPartition], timestamp_ms: int
    ) -> dict[TopicPartition, int | None]:
        """The first offset of each partition whose record time is at or after ``timestamp_ms``.

        ``None`` for a partition with no such record (yet): a reader starts at its end.
        """
        raw = {AkTopicPartition(tp.topic, tp.partition): timestamp_ms for tp in partitions}
        with translate_kafka_errors(self._servers):
            found = await self._consumer.offsets_for_times(raw)
        return {
            TopicPartition(tp.topic, tp.partition): None if at is None else int(at.offset)
            for tp, at in found.items()
        }


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Adapts aiokafka's listener to :class:`RebalanceHandler` with our partition type."""

    def __init__(self, handler: RebalanceHandler) -> None:
        self._handler = handler

    async def on_partitions_revoked(self, revoked: Iterable[AkTopicPartition]) -> None:
        await self._handler.on_revoked({TopicPartition(tp.topic, tp.partition) for tp in revoked})

    async def on_partitions_assigned(self, assigned: Iterable[AkTopicPartition]) -> None:
        await self._handler.on_assigned({TopicPartition(tp.topic, tp.partition) for tp in assigned})
