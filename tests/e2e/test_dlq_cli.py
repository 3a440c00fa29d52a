"""`longboat dlq list` and `dlq replay` as a user runs them."""

from __future__ import annotations

import asyncio
import json

from pydantic import JsonValue

from longboat import Envelope, Settings, TopicNames
from longboat.agents import Agent, Context
from tests.e2e.conftest import RunCli
from tests.integration.agents.conftest import AgentWorld, read_all, running


def test_dlq_list_and_replay(run_cli: RunCli, unique: str, settings: Settings) -> None:
    """A malformed record is listed with its reason; replay puts the exact bytes back, once."""
    names = TopicNames(f"e{unique}.")
    world = AgentWorld(settings, names, settings.kafka, f"in.{unique}", f"out.{unique}")
    agent = Agent("dlqcli", topics=[world.input_topic])

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        return None

    async def produce_dead_letter() -> None:
        await world.create("dlqcli")
        await world.publish_raw(b"{broken json", key=b"k-1")
        async with running(agent, world.agent_settings(instance="i1")):
            await world.read(names.dlq("dlqcli"), 1)

    asyncio.run(produce_dead_letter())

    listed = run_cli("dlq", "list", "dlqcli", "--json")
    assert listed.returncode == 0, listed.stderr
    letters = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(letters) == 1
    assert letters[0]["error_type"] == "EventDecodeError"
    assert letters[0]["topic"] == world.input_topic
    assert letters[0]["offset"] == 0
    human = run_cli("dlq", "list", "dlqcli")
    assert "EventDecodeError" in human.stdout

    usage = run_cli("dlq", "replay", "dlqcli")
    assert usage.returncode == 2
    assert "--id ID" in usage.stderr
    replayed = run_cli("dlq", "replay", "dlqcli", "--all")
    assert replayed.returncode == 0, replayed.stderr
    assert letters[0]["id"] in replayed.stdout
    assert "nothing to replay" in run_cli("dlq", "replay", "dlqcli", "--all").stdout
    assert run_cli("dlq", "list", "dlqcli").stdout == ""  # replayed ones are hidden...
    assert "(replayed)" in run_cli("dlq", "list", "dlqcli", "--all").stdout  # ...unless asked

    back = asyncio.run(read_all(settings.kafka, world.input_topic))
    assert [(r.key, r.value) for r in back] == [
        (b"k-1", b"{broken json"),
        (b"k-1", b"{broken json"),
    ]
