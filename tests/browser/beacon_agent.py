"""The agent the fleet browser test runs as a real process and then SIGKILLs.

It does nothing but exist: the runtime registers its instance and heartbeats to the registry.
Test-only module: its input topic comes from the environment.
"""

from __future__ import annotations

import os

from pydantic import JsonValue

from longboat import Envelope
from longboat.agents import Agent, Context

agent = Agent("beacon", topics=[os.environ.get("BEACON_INPUT", "beacon.in")], version="1.0")


@agent.handler
async def handle(ctx: Context, event: Envelope) -> JsonValue:
    """Ignore the event: the test only watches this agent's presence."""
    return None
