"""SIGKILL a real coordinator process at random moments during 200 workflows: count everything."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import urllib.request
from collections import Counter
from pathlib import Path
from typing import BinaryIO

from pydantic import JsonValue

from longboat import Envelope, EnvelopeSerde, Settings, TopicNames, TopicSpec
from longboat.agents import Agent, Context
from longboat.coordinator import history_entry_of
from longboat.devinfra import free_port
from longboat.kafka import Admin, Producer
from tests.helpers import assert_eventually
from tests.integration.agents.conftest import AgentWorld, read_committed, running

LONGBOAT = str(Path(sys.executable).parent / "longboat")
REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = 200
DEFINITION = """
name: three-steps
version: 1
trigger: {{topic: {topic}, type: order.placed, workflow_id: "${{event.data.order}}"}}
steps:
  - {{id: reserve, task: {{agent: stock, input: {{order: "${{event.data.order}}"}}}}}}
  - {{id: charge, task: {{agent: billing, input: {{order: "${{event.data.order}}"}}}}}}
  - {{id: ship, task: {{agent: shipping, input: {{order: "${{event.data.order}}"}}}}}}
"""


def _specialist(name: str) -> Agent:
    agent = Agent(name, max_in_flight=8, durability="exit")

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        await asyncio.sleep(0.3)  # slow enough that the kills land while workflows are in flight
        task = ctx.task
        assert task is not None
        return {"done": task.step}

    return agent


def _start(command: list[str], env: dict[str, str], log: BinaryIO) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)


_TOKEN = "chaos-operator-token-0123456789"


def _completed(url: str) -> int:
    request = urllib.request.Request(
        f"{url}/v1/workflows?status=completed", headers={"Authorization": f"Bearer {_TOKEN}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return len(json.loads(response.read())["workflows"])
    except OSError:
        return -1


async def test_sigkill_coordinator_during_200_workflows(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    """Every workflow completes once; no task is dispatched twice, whatever the kills hit."""
    names = TopicNames(settings.topic_prefix)
    topic = f"orders.{unique}"
    specs = names.system_topics(partitions=3)
    for agent in ("stock", "billing", "shipping", "coordinator", "coordinator-router"):
        specs += names.agent_topics(agent, partitions=3)
    async with Admin(settings.kafka) as admin:
        await admin.ensure_topics([*specs, TopicSpec(topic, 3)])
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "three.yaml").write_text(DEFINITION.format(topic=topic))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGBOAT_")}
    env |= {
        "LONGBOAT_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "LONGBOAT_TOPIC_PREFIX": settings.topic_prefix,
        "LONGBOAT_LOG_LEVEL": "warning",
        "LONGBOAT_OPERATOR_TOKEN": _TOKEN,
    }
    command = [
        LONGBOAT,
        "run",
        "coordinator",
        "--definitions",
        str(folder),
        "--port",
        str(port),
        "--instance",
        "chaos",
    ]
    log = (tmp_path / "coordinator.log").open("ab")
    world = AgentWorld(settings, names, settings.kafka, topic, "unused")
    serde = EnvelopeSerde()
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    process = _start(command, env, log)
    try:
        async with (
            running(_specialist("stock"), world.agent_settings(instance="s1")),
            running(_specialist("billing"), world.agent_settings(instance="s2")),
            running(_specialist("shipping"), world.agent_settings(instance="s3")),
        ):
            async with Producer(settings.kafka) as producer:
                for n in range(WORKFLOWS):
                    order = f"o-{n}"
                    encoded = serde.encode(
                        Envelope(type="order.placed", source="/shop", data={"order": order})
                    )
                    await producer.send(
                        topic, encoded.value, key=order.encode(), headers=encoded.headers
                    )
            for kill in range(3):
                await asyncio.sleep(rng.uniform(0.5, 2.0))
                if kill == 0:
                    in_flight = await asyncio.to_thread(_completed, url)
                    assert in_flight < WORKFLOWS, "the first kill must hit running workflows"
                process.send_signal(signal.SIGKILL)
                assert process.wait(timeout=30) == -signal.SIGKILL
                process = _start(command, env, log)
            await assert_eventually(
                lambda: asyncio.to_thread(_completed, url),
                lambda n: n == WORKFLOWS,
                timeout_s=240,
                interval_s=1,
                what="all workflows completed",
            )
    finally:
        process.terminate()
        process.wait(timeout=60)
    for agent in ("stock", "billing", "shipping"):
        tasks = await read_committed(settings.kafka, names.tasks(agent), WORKFLOWS)
        ids = Counter(serde.decode(t.value, t.headers).id for t in tasks)
        assert len(ids) == WORKFLOWS, agent
        assert max(ids.values()) == 1, f"{agent}: a task was dispatched twice: {ids.most_common(3)}"
    history = await read_committed(settings.kafka, names.workflows_history, WORKFLOWS)
    entries = [(r.key, history_entry_of(serde.decode(r.value, r.headers))) for r in history]
    completed = Counter(
        key for key, e in entries if e is not None and e.type == "WorkflowCompleted"
    )
    assert len(completed) == WORKFLOWS
    assert max(completed.values()) == 1
