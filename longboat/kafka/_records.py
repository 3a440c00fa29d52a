"""Typed record shapes that cross the Kafka adapter boundary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from longboat._serde import Headers

__all__ = ["CommittedOffset", "ConsumedRecord", "RebalanceHandler", "TopicPartition"]


@dataclass(frozen=True, slots=True, order=True)
class TopicPartition:
    """One partition of one topic."""

    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class ConsumedRecord:
    """A record as read from Kafka, with its coordinates."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers
    timestamp_ms: int

    @property
    def topic_partition(self) -> TopicPartition:
        """The partition this record was read from."""
        return TopicPartition(self.topic, self.partition)

    @property
    def coordinates(self) -> str:
        """``topic/partition@offset``, for logs and error messages."""
        return f"{self.topic}/{self.partition}@{self.offset}"


@dataclass(frozen=True, slots=True)
class CommittedOffset:
    """A group's committed position for one partition and the metadata stored with it."""

    offset: int
    metadata: str


class RebalanceHandler(Protocol):
    """Called by a group consumer around every rebalance (both are awaited)."""

    async def on_revoked(self, partitions: set[TopicPartition]) -> None:
        """Partitions are about to be taken away: finish or abandon work and commit."""

    async def on_assigned(self, partitions: set[TopicPartition]) -> None:
        """Partitions were handed to this member: restore their state before records flow."""
