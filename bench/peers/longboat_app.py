"""The workload as a Longboat agent: ``longboat run agent bench.peers.longboat_app:agent``.

Default settings (sync durability, eight records in flight); the output is emitted, so it is
written in the checkpoint's transaction with the consumed offsets.
"""

from __future__ import annotations

import json
import os

from pydantic import JsonValue

from bench.peers import workload
from longboat import Envelope
from longboat.agents import Agent, Context

agent = Agent("peer", topics=[os.environ.get("PEER_INPUT", "peer.in")], tasks=False)
_OUTPUT = os.environ.get("PEER_OUTPUT", "peer.out")
_SINK = os.environ.get("PEER_SINK", os.devnull)


@agent.handler
async def handle(ctx: Context, event: Envelope) -> JsonValue:
    """Three durable steps, then the output."""
    assert isinstance(event.data, dict)
    event_id = str(event.data["id"])
    first = await ctx.step("receive", workload.receive, event_id)
    second = await ctx.step("side_effect", workload.side_effect, _SINK, event_id)
    third = await ctx.step("finish", workload.receive, event_id)
    data = json.loads(workload.output_value(event_id, [first, second, third]))
    ctx.emit(_OUTPUT, event.caused(type="peer.out", source="/bench/peers", data=data))
    return None
