"""Ten-step agents for the replay tests: the recorded version, a fixed one, a changed one."""

from __future__ import annotations

from pydantic import JsonValue

from longboat import Envelope
from longboat.agents import Agent, Context
from longboat.errors import TerminalError

COUNTS: dict[str, int] = {}


def _counted(name: str, value: JsonValue) -> JsonValue:
    COUNTS[name] = COUNTS.get(name, 0) + 1
    return value


def build(
    name: str, *, bug: bool = False, step4_factor: int = 1, topic: str = "replay.in"
) -> Agent:
    """A ten-step agent; ``bug`` breaks step 10, ``step4_factor`` changes step 4's arguments."""
    agent = Agent(name, topics=[topic], durability="sync")

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        data = event.data if isinstance(event.data, dict) else {}
        amount = int(str(data.get("amount", 0)))
        total = 0
        for n in range(1, 10):
            arg = amount * step4_factor if n == 4 else amount + n
            total += int(str(await ctx.step(f"s{n}", _counted, f"s{n}", arg)))

        def tenth(value: int) -> JsonValue:
            _counted("s10", value)
            if bug:
                raise TerminalError("bug in step 10")
            return value

        final = await ctx.step("s10", tenth, total)
        ctx.emit(
            "replay.out", event.caused(type="replay.done", source="/replay", data={"total": final})
        )
        return {"total": final}

    return agent


# Loaded by `longboat replay --agent tests.unit.agents.replay_agents:fixed` in the e2e tests.
fixed = build("tenstep")
changed = build("tenstep", step4_factor=3)
