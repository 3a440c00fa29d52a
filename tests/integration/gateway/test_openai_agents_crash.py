"""SIGKILL of a real agent process running an OpenAI Agents SDK agent while its MCP tool call
blocks: after the restart, counters prove each model request and each tool effect happened
once, and each input has one output."""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from longboat import EnvelopeSerde
from longboat.agents.openai_agents import catalogue_tools
from longboat.errors import UsageError
from tests.chat_server import ChatServer, tool_call
from tests.integration.agents.conftest import read_committed
from tests.integration.gateway.conftest import GatewayWorld, serving
from tests.integration.gateway.test_mcp_crash import (
    Processes,
    _held_tools,
    _until_started,
    agent_process_env,
    agent_process_setup,
)
from tests.integration.gateway.test_mcp_tools import _approve_all, _effects, _stdio_tools


def _script(body: dict[str, Any]) -> dict[str, Any]:
    """Turn 1: charge the amount asked; turn 2: note it; turn 3: answer with both results."""
    asked = next(m["content"] for m in body["messages"] if m["role"] == "user")
    item = int(str(asked).split()[-1])
    results = [m["content"] for m in body["messages"] if m["role"] == "tool"]
    if not results:
        return tool_call("files__charge", {"amount": item}, body)
    if len(results) == 1:
        return tool_call("note", {"text": f"charged {item}"}, body)
    return {"role": "assistant", "content": f"paid {item}: {json.dumps(results)}"}


@pytest.fixture
async def model() -> AsyncIterator[ChatServer]:
    server = await ChatServer(reply=_script).start()
    yield server
    await server.stop()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    started = Processes(tmp_path)
    yield started
    started.close()


def _asked(model: ChatServer) -> Counter[tuple[str, int]]:
    """Model requests by (user input, turn): each must have been sent exactly once."""
    seen: Counter[tuple[str, int]] = Counter()
    for request in model.requests:
        messages = request["body"]["messages"]
        asked = next(m["content"] for m in messages if m["role"] == "user")
        seen[(asked, sum(1 for m in messages if m["role"] == "tool"))] += 1
    return seen


async def test_sdk_agent_sigkilled_mid_tool_call_resumes_without_repeating_a_call(
    world: GatewayWorld, processes: Processes, model: ChatServer, tmp_path: Path, unique: str
) -> None:
    """Agent SIGKILLed while the SDK agent's MCP tool call blocks: the restarted run serves the
    recorded model turn, re-runs the in-doubt call with its key (one effect), and goes on."""
    counter, hold, notes = tmp_path / "effects.txt", tmp_path / "hold", tmp_path / "notes.txt"
    await world.publish()
    key_file = tmp_path / "sdkpayer.key"
    input_topic, output_topic = f"sin.{unique}", f"sout.{unique}"
    await agent_process_setup(
        world,
        key_file,
        "sdkpayer",
        "tool:files",
        (input_topic, output_topic),
        [{"id": 1}, {"id": 2}],
    )
    serde = EnvelopeSerde()
    async with serving(world, tools_file=_held_tools(world, counter, hold)) as gateway:
        await _approve_all(world, gateway)
        env = agent_process_env(
            world,
            gateway.port,
            key_file,
            SDK_AGENT_INPUT=input_topic,
            SDK_AGENT_OUTPUT=output_topic,
            SDK_AGENT_MODEL_URL=model.url,
            SDK_AGENT_NOTES=str(notes),
        )
        run = [
            "run",
            "agent",
            "tests.integration.gateway.openai_sdk_agent:agent",
            "--instance",
            "s-1",
        ]
        hold.touch()
        first = processes.start(run, env)
        await _until_started(hold)  # the first charge is at the upstream server
        first.send_signal(signal.SIGKILL)
        assert await asyncio.to_thread(first.wait) == -signal.SIGKILL
        assert _asked(model) == Counter({("pay 1", 0): 1}), "killed after the first model turn"
        hold.unlink()
        second = processes.start(run, env)
        records = await read_committed(world.settings.kafka, output_topic, 2, timeout_s=120)
        second.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(second.wait) == 0, "graceful shutdown on SIGTERM"
    outputs: list[dict[str, Any]] = [
        dict(serde.decode(r.value or b"", r.headers).data)  # type: ignore[arg-type]
        for r in records
    ]
    assert sorted(o["id"] for o in outputs) == [1, 2]
    # Every model turn of every input was asked exactly once across the crash.
    assert _asked(model) == Counter({(f"pay {i}", turn): 1 for i in (1, 2) for turn in range(3)})
    charges = Counter(line.rsplit(" ", 1)[0] for line in _effects(counter))
    assert charges == Counter({"charge 1": 1, "charge 2": 1}), _effects(counter)
    assert sorted(notes.read_text().splitlines()) == ["charged 1", "charged 2"]
    for output in outputs:
        answer = str(output["answer"])
        assert "noted" in answer
        assert "r-" in answer, answer  # the receipt of the one charge


async def test_catalogue_tools_offer_approved_mcp_tools_to_the_sdk_agent(
    world: GatewayWorld, tmp_path: Path
) -> None:
    """Approved catalogue entries become SDK function tools with the approved schema, minus the
    key the gateway passes; an unapproved or unknown tool is refused with what there is."""
    await world.publish()
    async with serving(world, tools_file=_stdio_tools(world, tmp_path / "effects.txt")) as gw:
        with pytest.raises(UsageError, match="not approved"):
            await catalogue_tools(world.settings.kafka, world.names, ["files.charge"])
        await _approve_all(world, gw)
    [charge] = await catalogue_tools(world.settings.kafka, world.names, ["files.charge"])
    assert charge.name == "files__charge"
    assert charge.description == "Charge an amount; takes effect once per idempotency key."
    assert set(charge.params_json_schema["properties"]) == {"amount"}
    assert "idempotency_key" not in charge.params_json_schema.get("required", [])
    with pytest.raises(UsageError, match=r"files\.nothing"):
        await catalogue_tools(world.settings.kafka, world.names, ["files.nothing"])
