"""A payer agent in versions for the shadow CLI test (its topics come from the environment).

``longboat shadow run --agent tests.e2e.shadow_agents:strict`` loads this module in its own
process: the test names its unique topics in ``SHADOW_E2E_INPUT`` and ``SHADOW_E2E_OUTPUT``.
"""

from __future__ import annotations

import os

from longboat import Envelope
from longboat.agents import Agent, Context

COUNTS: dict[str, int] = {}


async def _score(amount: int) -> int:
    COUNTS["score"] = COUNTS.get("score", 0) + 1
    return amount


def build(*, threshold: int, topic: str, out: str) -> Agent:
    """``payer``: approves an amount whose score is above ``threshold``; emits its decision."""
    agent = Agent("payer", topics=[topic])

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> None:
        data = event.data if isinstance(event.data, dict) else {}
        approve = await ctx.step("score", _score, int(str(data.get("amount", 0)))) > threshold
        ctx.emit(
            out, event.caused(type="payer.decided", source="/payer", data={"approve": approve})
        )

    return agent


_TOPIC = os.environ.get("SHADOW_E2E_INPUT", "shadow.in")
_OUT = os.environ.get("SHADOW_E2E_OUTPUT", "shadow.out")
same = build(threshold=10, topic=_TOPIC, out=_OUT)
strict = build(threshold=30, topic=_TOPIC, out=_OUT)
