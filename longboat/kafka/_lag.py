"""Consumer-group lag: how many records a group has not committed yet."""

from __future__ import annotations

from longboat._settings import KafkaSettings
from longboat.kafka._admin import Admin
from longboat.kafka._consumer import Consumer

__all__ = ["group_lag"]


async def group_lag(kafka: KafkaSettings, group_id: str) -> int | None:
    """The sum over the group's partitions of end offset minus committed offset.

    Returns:
        ``None`` when the group has committed nothing yet (no partition to measure).
    """
    async with Admin(kafka) as admin:
        committed = await admin.group_offsets(group_id)
    if not committed:
        return None
    # A group-less consumer only reads metadata: it joins nothing and commits nothing.
    async with Consumer(kafka) as consumer:
        ends = await consumer.end_offsets(committed)
    return sum(max(0, ends.get(tp, offset) - offset) for tp, offset in committed.items())
