"""The agent runtime against the real broker: outputs, results, DLQ, ordering, modes."""

from __future__ import annotations

from pydantic import JsonValue

from agents import Agent, Context
from longboat import Envelope
from tests.integration.agents.conftest import AgentWorld, running


def _echo_agent(world: AgentWorld, name: str, **options: object) -> Agent:
    agent = Agent(name, topics=[world.input_topic], **options)  # type: ignore[arg-type]

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        doubled: JsonValue = await ctx.step("double", lambda n: n * 2, event.data)
        ctx.emit(world.output_topic, event.caused(type="test.output", source="/t", data=doubled))
        return doubled

    return agent


async def test_every_input_gives_exactly_one_output(world: AgentWorld) -> None:
    """Records published before and while the agent runs each produce one output."""
    await world.create("echo")
    await world.publish([("a", 1), ("b", 2)])
    agent = _echo_agent(world, "echo")
    async with running(agent, world.agent_settings(instance="i1")):
        await world.publish([("c", 3)])
        outputs = await world.read(world.output_topic, 3)
    assert sorted(e.data for e in outputs) == [2, 4, 6]  # type: ignore[type-var]
