"""The three echo specialists of the benchmark workflow (in-process and as subprocesses).

``longboat run agent bench.specialists:stepa`` (and ``stepb``, ``stepc``) runs one of them as
its own process; the coordinator benchmarks run :func:`echo` agents in-process.
"""

from __future__ import annotations

from pydantic import JsonValue

from longboat import Envelope
from longboat.agents import Agent, Context

__all__ = ["AGENTS", "echo", "stepa", "stepb", "stepc"]

AGENTS = ("stepa", "stepb", "stepc")


def echo(name: str) -> Agent:
    """A specialist that answers every task with ``{"ok": true}`` at once (no steps)."""
    agent = Agent(name, durability="exit", max_in_flight=64)

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        return {"ok": True}

    return agent


stepa, stepb, stepc = (echo(name) for name in AGENTS)
