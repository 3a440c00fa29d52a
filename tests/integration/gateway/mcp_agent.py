"""The agent the MCP crash test runs as a real subprocess (``longboat run agent``).

Per event it charges through the gateway's MCP tool ``files.charge``, then sends a message with
``files.send`` (not idempotent), then emits one output. Test-only module: its topics come from
the environment.
"""

from __future__ import annotations

import os

from pydantic import JsonValue

from longboat import Envelope
from longboat.agents import Agent, Context

_ENV = os.environ  # test harness configuration, not settings

agent = Agent("payer", topics=[_ENV.get("MCP_AGENT_INPUT", "payer.in")], version="1.0")


@agent.handler
async def handle(ctx: Context, event: Envelope) -> JsonValue:
    """charge (MCP, keyed) -> send (MCP, not idempotent) -> emit."""
    item = int(dict(event.data)["id"])  # type: ignore[arg-type]
    receipt = await ctx.tool("files.charge", {"amount": item})
    sent = await ctx.tool("files.send", {"text": f"charged {item}"})
    ctx.emit(
        _ENV.get("MCP_AGENT_OUTPUT", "payer.out"),
        event.caused(
            type="payer.out", source="/tests", data={"id": item, "receipt": receipt, "sent": sent}
        ),
    )
    return None
