"""Topic administration against the real broker: idempotent creation with layouts."""

from __future__ import annotations

import pytest

from longboat import KafkaSettings, TopicNames
from longboat.errors import BrokerUnavailable, TopicError
from longboat.kafka import Admin


async def test_system_topics_are_created_once_with_their_policies(
    kafka: KafkaSettings, unique: str
) -> None:
    """ensure_topics creates every topic, reports 'exists' the second time, and applies configs."""
    names = TopicNames(f"t{unique}.")
    specs = names.system_topics(partitions=2) + names.agent_topics("triage", partitions=2)
    async with Admin(kafka) as admin:
        first = await admin.ensure_topics(specs)
        second = await admin.ensure_topics(specs)
        assert set(first.values()) == {"created"}
        assert set(second.values()) == {"exists"}
        assert {s.name for s in specs} <= await admin.list_topics()
        registry = await admin.topic_config(names.registry)
        assert registry["cleanup.policy"] == "compact"
        journal = await admin.topic_config(names.journal("triage"))
        assert set(journal["cleanup.policy"].split(",")) == {"compact", "delete"}
        history = await admin.topic_config(names.workflows_history)
        assert int(history["retention.ms"]) == 365 * 24 * 3600 * 1000
        assert await admin.partition_count(names.results) == 2
        assert await admin.partition_count(names.registry) == 1


async def test_missing_topic_is_a_topic_error(kafka: KafkaSettings, unique: str) -> None:
    """Asking about a topic that does not exist names it and how to create it."""
    async with Admin(kafka) as admin:
        with pytest.raises(TopicError, match=f"nope{unique}"):
            await admin.partition_count(f"nope{unique}")


async def test_partition_counts_of_several_topics_leave_out_missing_ones(
    kafka: KafkaSettings, unique: str
) -> None:
    """One call counts the partitions of each existing topic and leaves the missing ones out."""
    names = TopicNames(f"c{unique}.")
    async with Admin(kafka) as admin:
        await admin.ensure_topics(names.agent_topics("triage", partitions=3))
        counts = await admin.partition_counts([names.journal("triage"), f"nope{unique}"])
    assert counts == {names.journal("triage"): 3}


async def test_unreachable_broker_is_broker_unavailable() -> None:
    """A bootstrap address nobody listens on raises BrokerUnavailable (retryable)."""
    from longboat.devinfra import free_port

    dead = KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}", request_timeout_ms=2000)
    with pytest.raises(BrokerUnavailable, match="no Kafka broker answered") as info:
        async with Admin(dead):
            pass
    assert info.value.retryable
