"""An agent run under tracing, crashed after its first step and replayed (a test subprocess).

``python -m tests.integration.agents.traced_probe TRACEPARENT``: the OTEL_* variables of the
calling test point it at a real collector; it prints the traceparents of what the replay emitted.
"""

from __future__ import annotations

import asyncio
import json
import sys

from pydantic import JsonValue

from longboat import Envelope, configure_tracing, flush_tracing
from longboat.agents import Agent, Context
from longboat.agents.testing import AgentTestEnvironment, InMemoryGateway

agent = Agent("probe", topics=["probe.in"])


@agent.handler
async def handle(ctx: Context, event: Envelope) -> JsonValue:
    """One LLM step, one tool step, one emit."""
    answer = await ctx.llm("Say hello", max_tokens=5)
    receipt = await ctx.tool("pay", {"amount": 3})
    ctx.emit("probe.out", event.caused(type="probe.done", source="/probe", data=answer.text))
    return receipt


async def main(traceparent: str) -> None:
    """Crash after the LLM step, replay: the LLM step is replayed, the tool step runs."""
    assert configure_tracing("longboat-agent-probe"), "the test sets OTEL_EXPORTER_OTLP_ENDPOINT"
    gateway = InMemoryGateway(tools={"pay": lambda arguments: {"paid": arguments}})
    env = AgentTestEnvironment(agent, gateway=gateway)
    event = Envelope(type="probe.asked", source="/test", traceparent=traceparent)
    crashed = await env.run(event, crash_after_step=1)
    assert crashed.crashed
    replayed = await env.replay(crashed)
    assert replayed.replayed_steps == 1
    assert replayed.executed_steps == 1
    flush_tracing()
    emitted = [e.traceparent for e in replayed.emitted.get("probe.out", ())]
    print(json.dumps({"emitted": emitted}))  # noqa: T201


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
