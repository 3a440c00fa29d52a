"""The agent the approval crash test runs as a real subprocess (``longboat run agent``).

Per event it pays through the gateway's ``payments`` tool (a policy parks large amounts for an
operator), then emits one output with the receipt. Test-only module: its topics come from the
environment.
"""

from __future__ import annotations

import os

from pydantic import JsonValue

from longboat import Envelope
from longboat.agents import Agent, Context

_ENV = os.environ  # test harness configuration, not settings

agent = Agent("payer", topics=[_ENV.get("APPROVAL_AGENT_INPUT", "payer.in")], version="1.0")


@agent.handler
async def handle(ctx: Context, event: Envelope) -> JsonValue:
    """pay (parked until approved) -> emit."""
    amount = int(dict(event.data)["amount"])  # type: ignore[arg-type]
    receipt = await ctx.tool("payments", {"amount": amount})
    ctx.emit(
        _ENV.get("APPROVAL_AGENT_OUTPUT", "payer.out"),
        event.caused(type="payer.out", source="/tests", data={"receipt": receipt}),
    )
    return None
