"""A workflow's history stays readable when its topic holds a record that is not an event."""

from __future__ import annotations

from longboat import EnvelopeSerde, Settings, TopicNames, TopicSpec
from longboat.coordinator import CoordinatorSettings, history_event, read_history
from longboat.coordinator._machine import HistoryEntry
from longboat.kafka import Admin, Producer


async def test_read_history_skips_junk_records(settings: Settings) -> None:
    """Junk under the workflow's key is skipped; the real entries around it are returned."""
    topic = TopicNames(settings.topic_prefix).workflows_history
    async with Admin(settings.kafka) as admin:
        await admin.ensure_topics([TopicSpec(topic, 1)], replication_factor=1)
    serde = EnvelopeSerde()
    first = serde.encode(history_event("wf-1", HistoryEntry(type="WorkflowStarted")))
    last = serde.encode(history_event("wf-1", HistoryEntry(type="WorkflowCompleted")))
    async with Producer(settings.kafka) as producer:
        await producer.send(topic, first.value, key=b"wf-1", headers=first.headers)
        await producer.send(topic, b"\xff not an event", key=b"wf-1")
        await producer.send(topic, b'{"id": 1}', key=b"wf-1", headers=(("ce_type", b"x"),))
        await producer.send(topic, last.value, key=b"wf-1", headers=last.headers)
    coordinator = CoordinatorSettings(kafka=settings.kafka, topic_prefix=settings.topic_prefix)
    entries = await read_history(coordinator, "wf-1")
    assert [e.type for e in entries] == ["WorkflowStarted", "WorkflowCompleted"]
