"""The coordinator on the real broker with real agents: handoffs, approval, rejection, history."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import JsonValue, SecretStr

from longboat import Envelope, Settings, TopicNames, TopicSpec
from longboat.agents import Agent, Context
from longboat.coordinator import (
    CoordinatorService,
    CoordinatorServiceSettings,
    CoordinatorSettings,
    read_history,
)
from longboat.kafka import Admin
from tests.helpers import assert_eventually
from tests.integration.agents.conftest import AgentWorld, read_committed, running

DEFINITION = """
name: intake
version: 1
trigger: {{topic: {topic}, type: claims.submitted, workflow_id: "${{event.data.claim_id}}"}}
steps:
  - id: triage
    task: {{agent: triage, input: {{claim: "${{event.data}}"}}}}
  - id: review
    when: "steps.triage.output.label == 'complex'"
    approval: {{prompt: "Pay it?", timeout_s: {timeout}, on_timeout: {on_timeout}}}
  - id: pay
    task: {{agent: payments, input: {{amount: "${{event.data.amount}}"}}}}
"""


OPERATOR_TOKEN = "coordinator-test-operator-token"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


def _task_input(ctx: Context) -> dict[str, Any]:
    task = ctx.task
    assert task is not None
    assert isinstance(task.input, dict)
    return task.input


def _specialists(paid: list[dict[str, Any]]) -> list[Agent]:
    triage = Agent("triage")

    @triage.handler
    async def classify(ctx: Context, event: Envelope) -> JsonValue:
        claim = _task_input(ctx)["claim"]
        return {"label": "complex" if int(claim["amount"]) > 1000 else "simple"}

    payments = Agent("payments")

    @payments.handler
    async def pay(ctx: Context, event: Envelope) -> JsonValue:
        paid.append(_task_input(ctx))
        return {"paid": True}

    return [triage, payments]


@contextlib.asynccontextmanager
async def coordinator(
    settings: Settings, definitions: Path, *, viewer_token_file: Path | None = None
) -> AsyncIterator[CoordinatorService]:
    """A coordinator service in this process (the operator token: ``OPERATOR_TOKEN``)."""
    service_settings = CoordinatorSettings(
        kafka=settings.kafka,
        topic_prefix=settings.topic_prefix,
        operator_token=SecretStr(OPERATOR_TOKEN),
        coordinator=CoordinatorServiceSettings(
            definitions=definitions, port=0, instance="c1", viewer_token_file=viewer_token_file
        ),
    )
    async with CoordinatorService(service_settings) as service:
        task = asyncio.create_task(service.run())
        try:
            await assert_eventually(
                lambda: _ready(service, task), bool, timeout_s=60, what="coordinator ready"
            )
            yield service
        finally:
            service.shutdown()
            await task


async def _ready(service: CoordinatorService, task: asyncio.Task[None]) -> bool:
    if task.done():
        task.result()
    return service.ready()


async def _setup(
    settings: Settings,
    tmp_path: Path,
    unique: str,
    *,
    gate_timeout_s: int = 3600,
    on_timeout: str = "escalate",
) -> tuple[AgentWorld, Path]:
    names = TopicNames(settings.topic_prefix)
    topic = f"claims.{unique}"
    specs = names.system_topics(partitions=2)
    for agent in ("triage", "payments", "coordinator", "coordinator-router"):
        specs += names.agent_topics(agent, partitions=2)
    async with Admin(settings.kafka) as admin:
        await admin.ensure_topics([*specs, TopicSpec(topic, 2)])
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "intake.yaml").write_text(
        DEFINITION.format(topic=topic, timeout=gate_timeout_s, on_timeout=on_timeout)
    )
    return AgentWorld(settings, names, settings.kafka, topic, "unused"), folder


async def _claims(world: AgentWorld, *claims: tuple[str, int]) -> None:
    serde_events: list[tuple[str, JsonValue]] = [
        (cid, {"claim_id": cid, "amount": amount}) for cid, amount in claims
    ]
    from longboat import EnvelopeSerde
    from longboat.kafka import Producer

    serde = EnvelopeSerde()
    async with Producer(world.kafka) as producer:
        for cid, data in serde_events:
            encoded = serde.encode(Envelope(type="claims.submitted", source="/claims", data=data))
            await producer.send(
                world.input_topic, encoded.value, key=cid.encode(), headers=encoded.headers
            )


async def _status(service: CoordinatorService, workflow_id: str) -> str | None:
    record = service.engine.record(workflow_id)
    return record.state.status if record else None


async def test_approval_gate_resumes_and_rejection_ends(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    """Simple claims run straight through; a complex one waits, resumes on approve; reject ends."""
    world, folder = await _setup(settings, tmp_path, unique)
    paid: list[dict[str, Any]] = []
    triage, payments = _specialists(paid)
    agent_settings = world.agent_settings(instance="s1")
    async with (
        coordinator(settings, folder) as service,
        running(triage, agent_settings),
        running(payments, world.agent_settings(instance="s2")),
    ):
        await _claims(world, ("c-small", 100), ("c-big", 5000), ("c-bad", 9000))
        await assert_eventually(
            lambda: _status(service, "c-small"),
            lambda s: s == "completed",
            timeout_s=60,
            what="simple claim completed",
        )
        for wf in ("c-big", "c-bad"):

            async def status(workflow_id: str = wf) -> str | None:
                return await _status(service, workflow_id)

            await assert_eventually(
                status, lambda s: s == "waiting_approval", timeout_s=60, what=f"{wf} waiting"
            )
        base = f"http://127.0.0.1:{service.port}"
        async with aiohttp.ClientSession(headers=OPERATOR) as http:
            async with http.get(f"{base}/v1/inbox") as response:
                inbox = await response.json()
            assert {w["workflow_id"] for w in inbox["needs_input"]} == {"c-big", "c-bad"}
            assert inbox["needs_input"][0]["waiting_for"]["prompt"] == "Pay it?"
            async with http.get(f"{base}/") as page:  # the Mission Control page over the same API
                assert page.status == 200
                html = await page.text()
            assert "Mission Control" in html
            async with http.get(f"{base}/static/console.js") as script:
                code = await script.text()
            assert "/v1/inbox" in code
            assert "/signals" in code
            for wf, signal in (("c-big", "approve"), ("c-bad", "reject")):
                body = {"signal": signal, "by": "alice", "note": "checked"}
                async with http.post(f"{base}/v1/workflows/{wf}/signals", json=body) as response:
                    assert response.status == 202
        await assert_eventually(
            lambda: _status(service, "c-big"),
            lambda s: s == "completed",
            timeout_s=60,
            what="approved claim completed",
        )
        await assert_eventually(
            lambda: _status(service, "c-bad"),
            lambda s: s == "rejected",
            timeout_s=60,
            what="rejected claim ended",
        )
        big = service.engine.record("c-big")
        assert big is not None
        assert big.state.steps["review"].decided_by == "alice"
    assert sorted(p["amount"] for p in paid) == [100, 5000]
    tasks = await read_committed(settings.kafka, world.names.tasks("payments"), 2)
    assert len(tasks) == 2  # each payment task dispatched exactly once
    service_settings = CoordinatorSettings(kafka=settings.kafka, topic_prefix=settings.topic_prefix)
    history = [h.type for h in await read_history(service_settings, "c-big")]
    assert history == [
        "WorkflowStarted",
        "TaskDispatched",
        "TaskCompleted",
        "ApprovalRequested",
        "SignalReceived",
        "TaskDispatched",
        "TaskCompleted",
        "WorkflowCompleted",
    ]


async def test_approval_timeout_rejects_and_state_survives_restart(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    """A gate with on_timeout: reject ends the workflow in time; a restart keeps the states."""
    world, folder = await _setup(settings, tmp_path, unique, gate_timeout_s=1, on_timeout="reject")
    paid: list[dict[str, Any]] = []
    triage, payments = _specialists(paid)
    async with (
        running(triage, world.agent_settings(instance="s1")),
        running(payments, world.agent_settings(instance="s2")),
    ):
        async with coordinator(settings, folder) as service:
            await _claims(world, ("c-slow", 5000), ("c-fast", 10))
            await assert_eventually(
                lambda: _status(service, "c-slow"),
                lambda s: s == "rejected",
                timeout_s=60,
                what="timed-out gate rejected",
            )
            await assert_eventually(
                lambda: _status(service, "c-fast"),
                lambda s: s == "completed",
                timeout_s=60,
                what="fast claim completed",
            )
        async with coordinator(settings, folder) as restarted:
            await assert_eventually(
                lambda: _status(restarted, "c-slow"),
                lambda s: s == "rejected",
                timeout_s=60,
                what="state reloaded",
            )
            assert await _status(restarted, "c-fast") == "completed"
    assert paid == [{"amount": 10}]


async def test_running_workflows_keep_their_version_and_timeouts_escalate(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    """v2 deployed mid-flight: waiting v1 workflows finish on v1, new ones start on v2."""
    world, folder = await _setup(
        settings, tmp_path, unique, gate_timeout_s=1, on_timeout="escalate"
    )
    paid: list[dict[str, Any]] = []
    triage, payments = _specialists(paid)
    async with (
        running(triage, world.agent_settings(instance="s1")),
        running(payments, world.agent_settings(instance="s2")),
    ):
        async with coordinator(settings, folder) as service:
            await _claims(world, ("c-old", 5000), ("c-gone", 5000))

            async def escalated() -> str | None:
                record = service.engine.record("c-old")
                return (
                    record.state.steps["review"].escalated_to
                    if record and "review" in record.state.steps
                    else None
                )

            await assert_eventually(
                escalated, lambda to: to == "escalation", timeout_s=60, what="gate escalated"
            )
            # Escalation keeps the workflow waiting.
            assert await _status(service, "c-old") == "waiting_approval"
        # v2 pays double; deployed by restarting the coordinator with both versions.
        v1 = (folder / "intake.yaml").read_text()
        v2 = v1.replace("version: 1", "version: 2").replace("amount}", "amount * 2}")
        (folder / "intake-v2.yaml").write_text(v2)
        async with coordinator(settings, folder) as service:
            await _claims(world, ("c-new", 10))
            base = f"http://127.0.0.1:{service.port}"
            async with aiohttp.ClientSession(headers=OPERATOR) as http:
                for wf, signal in (("c-old", "approve"), ("c-gone", "cancel")):
                    body = {"signal": signal, "by": "bob"}
                    async with http.post(
                        f"{base}/v1/workflows/{wf}/signals", json=body
                    ) as response:
                        assert response.status == 202
            for wf, status in (
                ("c-old", "completed"),
                ("c-new", "completed"),
                ("c-gone", "cancelled"),
            ):

                async def current(workflow_id: str = wf) -> str | None:
                    return await _status(service, workflow_id)

                await assert_eventually(
                    current, _equals(status), timeout_s=60, what=f"{wf} {status}"
                )
            old, new = service.engine.record("c-old"), service.engine.record("c-new")
            assert old is not None
            assert new is not None
            assert (old.definition_version, new.definition_version) == (1, 2)
    assert sorted(p["amount"] for p in paid) == [20, 5000]  # c-old paid under v1, c-new under v2


def _equals(wanted: str) -> Callable[[str | None], bool]:
    return lambda value: value == wanted


async def test_readyz_and_metrics_of_both_coordinator_agents(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    """/readyz is JSON 200 once running; /metrics merges router and core into one family each."""
    world, folder = await _setup(settings, tmp_path, unique)
    triage, payments = _specialists([])
    async with (
        coordinator(settings, folder) as service,
        running(triage, world.agent_settings(instance="m1")),
        running(payments, world.agent_settings(instance="m2")),
    ):
        await _claims(world, ("c-metered", 100))
        await assert_eventually(
            lambda: _status(service, "c-metered"),
            lambda s: s == "completed",
            timeout_s=60,
            what="claim completed",
        )
        base = f"http://127.0.0.1:{service.port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/readyz") as ready:
                assert (ready.status, await ready.json()) == (200, {"ready": True})
            async with http.get(f"{base}/metrics") as response:
                assert response.status == 200
                text = await response.text()
    assert text.count("# TYPE longboat_records_processed_total counter") == 1
    for agent in ("coordinator-router", "coordinator"):
        assert f'longboat_records_processed_total{{agent="{agent}",outcome="completed"}}' in text


async def test_junk_on_the_state_topic_does_not_stop_the_coordinator(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    """A record on lb.workflows.state that is not a state is skipped; workflows still run."""
    from longboat.kafka import Producer

    world, folder = await _setup(settings, tmp_path, unique)
    async with Producer(settings.kafka) as producer:
        for partition in (0, 1):
            await producer.send(
                world.names.workflows_state, b"\xff junk", key=b"c-junk", partition=partition
            )
            await producer.send(
                world.names.workflows_state,
                b'{"not": "a state"}',
                key=b"c-junk2",
                partition=partition,
                headers=(("ce_specversion", b"1.0"), ("ce_type", b"x")),
            )
    paid: list[dict[str, Any]] = []
    triage, payments = _specialists(paid)
    async with (
        coordinator(settings, folder) as service,
        running(triage, world.agent_settings(instance="s1")),
        running(payments, world.agent_settings(instance="s2")),
    ):
        await _claims(world, ("c-after-junk", 100))
        await assert_eventually(
            lambda: _status(service, "c-after-junk"),
            lambda s: s == "completed",
            timeout_s=60,
            what="a workflow completed after the junk",
        )
    assert paid == [{"amount": 100}]
