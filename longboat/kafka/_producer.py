"""Typed producers: idempotent, and transactional for consume -> process -> produce."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiokafka import AIOKafkaProducer
from aiokafka.structs import OffsetAndMetadata
from aiokafka.structs import TopicPartition as AkTopicPartition

from longboat._settings import KafkaSettings
from longboat.errors import ConfigError, ProducerFenced
from longboat.kafka._client_config import client_kwargs
from longboat.kafka._errors import translate_kafka_errors
from longboat.kafka._records import TopicPartition

__all__ = ["Producer", "RecordMetadata", "TransactionalProducer"]


@dataclass(frozen=True, slots=True)
class RecordMetadata:
    """Where the broker stored a record."""

    topic: str
    partition: int
    offset: int


class Producer:
    """An idempotent producer (``acks=all``): a retried send never duplicates a record.

    Use as ``async with Producer(settings.kafka) as producer: await producer.send(...)``.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        linger_ms: int = 5,
        max_request_size: int = 1_048_576,
        **extra: Any,
    ) -> None:
        """Create a producer; nothing connects until :meth:`start`.

        Args:
            kafka: Connection settings.
            linger_ms: How long to wait for more records to batch.
            max_request_size: The largest request the producer sends.
            extra: Further aiokafka producer options (adapter subclasses only).
        """
        if linger_ms < 0:
            raise ConfigError(f"linger_ms={linger_ms} must be >= 0")
        self._servers = kafka.bootstrap_servers
        self._producer = AIOKafkaProducer(
            **client_kwargs(kafka),
            acks="all",
            enable_idempotence=True,
            linger_ms=linger_ms,
            max_request_size=max_request_size,
            **extra,
        )
        self._started = False

    async def start(self) -> None:
        """Connect to the cluster."""
        with translate_kafka_errors(self._servers):
            try:
                await self._producer.start()
            except BaseException:
                # aiokafka leaves its client half-open when bootstrap fails.
                await self._producer.stop()
                raise
        self._started = True

    async def stop(self) -> None:
        """Flush pending records and disconnect; safe to call twice."""
        if self._started:
            self._started = False
            with translate_kafka_errors(self._servers):
                await self._producer.stop()

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

    async def send(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
        partition: int | None = None,
    ) -> RecordMetadata:
        """Send one record and wait until the broker has acknowledged it."""
        future = await self.enqueue(topic, value, key=key, headers=headers, partition=partition)
        return await future

    async def enqueue(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
        partition: int | None = None,
    ) -> asyncio.Future[RecordMetadata]:
        """Queue one record for sending; the returned future resolves when it is acknowledged."""
        with translate_kafka_errors(self._servers):
            raw = await self._producer.send(
                topic, value=value, key=key, headers=list(headers), partition=partition
            )
        return asyncio.ensure_future(self._metadata(raw))

    async def _metadata(self, raw: asyncio.Future[Any]) -> RecordMetadata:
        with translate_kafka_errors(self._servers):
            meta = await raw
        return RecordMetadata(meta.topic, meta.partition, meta.offset)

    async def flush(self) -> None:
        """Wait until every queued record is acknowledged."""
        with translate_kafka_errors(self._servers):
            await self._producer.flush()

    async def partitions_for(self, topic: str) -> set[int]:
        """The partition numbers of ``topic`` (fetching metadata if needed)."""
        with translate_kafka_errors(self._servers):
            found: set[int] = await self._producer.partitions_for(topic)
        return found


class TransactionalProducer(Producer):
    """A producer whose sends and consumer offsets commit or abort together.

    The transactional id must be stable for the unit of work it protects (Longboat binds it to
    an input partition): a new producer with the same id fences the old one, so a zombie can
    never commit.
    """

    def __init__(self, kafka: KafkaSettings, *, transactional_id: str, linger_ms: int = 5) -> None:
        """Create a transactional producer.

        Args:
            kafka: Connection settings.
            transactional_id: The fencing identity (e.g. ``<agent>.<topic>.<partition>``).
            linger_ms: How long to wait for more records to batch.
        """
        if not transactional_id:
            raise ConfigError("transactional_id must not be empty")
        super().__init__(kafka, linger_ms=linger_ms, transactional_id=transactional_id)
        self.transactional_id = transactional_id

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Begin a transaction; commit it if the block succeeds, abort it if it raises."""
        await self.begin()
        try:
            yield
        except ProducerFenced:
            raise  # a fenced producer can neither commit nor abort: nothing it wrote is visible
        except BaseException:
            await self.abort()
            raise
        await self.commit()

    async def begin(self) -> None:
        """Begin a transaction."""
        with translate_kafka_errors(self._servers):
            await self._producer.begin_transaction()

    async def commit(self) -> None:
        """Commit the open transaction: its records and offsets become visible together."""
        with translate_kafka_errors(self._servers):
            await self._producer.commit_transaction()

    async def abort(self) -> None:
        """Abort the open transaction: its records are never visible to read_committed readers.

        Raises:
            ProducerFenced: The producer was fenced (aiokafka then refuses any transition).
        """
        with translate_kafka_errors(self._servers):
            try:
                await self._producer.abort_transaction()
            except AssertionError as e:  # aiokafka's "invalid state transition" after fencing
                raise ProducerFenced(f"the transaction cannot be aborted: {e}") from e

    async def send_offsets(
        self, offsets: Mapping[TopicPartition, int], group_id: str, *, metadata: str = ""
    ) -> None:
        """Add consumer offsets (the *next* offset to read) to the open transaction.

        Args:
            offsets: The next offset to read, per partition.
            group_id: The consumer group whose offsets these are.
            metadata: Stored with every offset and committed atomically with it.
        """
        raw = {
            AkTopicPartition(tp.topic, tp.partition): OffsetAndMetadata(offset, metadata)
            for tp, offset in offsets.items()
        }
        with translate_kafka_errors(self._servers):
            await self._producer.send_offsets_to_transaction(raw, group_id)
