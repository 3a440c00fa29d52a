"""Resuming a failed workflow on a new definition version, on the real broker with real agents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from pydantic import JsonValue

from longboat import Envelope, EnvelopeSerde, Settings, TopicNames, TopicSpec
from longboat.agents import Agent, Context
from longboat.coordinator import CoordinatorSettings, HistoryItem, read_history
from longboat.kafka import Admin, Producer
from tests.helpers import assert_eventually
from tests.integration.agents.conftest import AgentWorld, read_committed, running
from tests.integration.coordinator.test_coordinator import (
    OPERATOR,
    _equals,
    _status,
    coordinator,
)

# v1 hands the payment step ``cents`` while the payments agent reads ``amount``: step 2 fails.
V1 = """
name: orders
version: 1
trigger: {{topic: {topic}, type: orders.placed, workflow_id: "${{event.data.order_id}}"}}
steps:
  - id: check
    task: {{agent: checker, input: {{order: "${{event.data}}"}}}}
  - id: pay
    task: {{agent: payments, input: {{cents: "${{event.data.amount}}"}}}}
"""


def _specialists(checked: list[JsonValue], paid: list[JsonValue]) -> list[Agent]:
    checker = Agent("checker")

    @checker.handler
    async def check(ctx: Context, event: Envelope) -> JsonValue:
        assert ctx.task is not None
        checked.append(ctx.task.input)
        return {"ok": True}

    payments = Agent("payments")

    @payments.handler
    async def pay(ctx: Context, event: Envelope) -> JsonValue:
        assert ctx.task is not None
        task_input: Any = ctx.task.input
        paid.append(task_input)
        return {"paid": task_input["amount"]}  # a KeyError under v1: the task is dead-lettered

    return [checker, payments]


def _resume(*, version: int) -> dict[str, JsonValue]:
    return {"signal": "resume", "by": "ops", "from_step": "pay", "version": version}


async def _signal(port: int, workflow_id: str, body: dict[str, JsonValue]) -> None:
    async with (
        aiohttp.ClientSession(headers=OPERATOR) as http,
        http.post(f"http://127.0.0.1:{port}/v1/workflows/{workflow_id}/signals", json=body) as r,
    ):
        assert r.status == 202, await r.text()


async def test_failed_workflow_resumes_on_v2_without_running_its_first_step_again(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    """A v1 workflow failed at step 2 resumes there on v2 and completes; step 1 is not redone."""
    names = TopicNames(settings.topic_prefix)
    topic = f"orders.{unique}"
    specs = names.system_topics(partitions=2)
    for agent in ("checker", "payments", "coordinator", "coordinator-router"):
        specs += names.agent_topics(agent, partitions=2)
    async with Admin(settings.kafka) as admin:
        await admin.ensure_topics([*specs, TopicSpec(topic, 2)])
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "orders.yaml").write_text(V1.format(topic=topic))
    history_settings = CoordinatorSettings(kafka=settings.kafka, topic_prefix=settings.topic_prefix)

    async def history() -> list[HistoryItem]:
        return await read_history(history_settings, "o-1")

    checked: list[JsonValue] = []
    paid: list[JsonValue] = []
    checker, payments = _specialists(checked, paid)
    world = AgentWorld(settings, names, settings.kafka, topic, "unused")
    async with (
        running(checker, world.agent_settings(instance="s1")),
        running(payments, world.agent_settings(instance="s2")),
    ):
        async with coordinator(settings, folder) as service:
            serde = EnvelopeSerde()
            order = Envelope(
                type="orders.placed", source="/orders", data={"order_id": "o-1", "amount": 42}
            )
            encoded = serde.encode(order)
            async with Producer(settings.kafka) as producer:
                await producer.send(topic, encoded.value, key=b"o-1", headers=encoded.headers)
            await assert_eventually(
                lambda: _status(service, "o-1"), _equals("failed"), timeout_s=60, what="v1 failed"
            )
        # v2 fixes the mapping; deployed by restarting the coordinator with both versions.
        v2 = V1.format(topic=topic).replace("version: 1", "version: 2").replace("cents", "amount")
        (folder / "orders-v2.yaml").write_text(v2)
        async with coordinator(settings, folder) as service:
            await _signal(
                service.port,
                "o-1",
                {"signal": "resume", "by": "ops", "from_step": "pay", "version": 3},
            )
            await assert_eventually(
                history,
                lambda h: any(e.type == "ResumeRefused" for e in h),
                timeout_s=60,
                what="undeployed version refused",
            )
            assert await _status(service, "o-1") == "failed"
            await _signal(
                service.port,
                "o-1",
                {"signal": "resume", "by": "ops", "from_step": "pay", "version": 2},
            )
            await assert_eventually(
                lambda: _status(service, "o-1"), _equals("completed"), timeout_s=60, what="resumed"
            )
            record = service.engine.record("o-1")
            assert record is not None
            assert record.definition_version == 2
            assert record.state.steps["pay"].task_id == "o-1:pay:2"
            assert record.state.steps["pay"].output == {"paid": 42}
    assert len(checked) == 1  # step 1 ran once, before the failure
    assert paid == [{"cents": 42}, {"amount": 42}]
    check_tasks = await read_committed(settings.kafka, names.tasks("checker"), 1)
    assert len(check_tasks) == 1  # never dispatched again (all were written before completion)
    types = [e.type for e in await history()]
    assert types == [
        "WorkflowStarted",
        "TaskDispatched",
        "TaskCompleted",
        "TaskDispatched",
        "TaskFailed",
        "WorkflowFailed",
        "ResumeRefused",
        "WorkflowResumed",
        "TaskDispatched",
        "TaskCompleted",
        "WorkflowCompleted",
    ]
