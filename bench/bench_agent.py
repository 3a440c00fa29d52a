"""The one-step agent the benchmarks run (in-process and as a subprocess for peak RSS)."""

from __future__ import annotations

import os
import time

from pydantic import JsonValue

from longboat import Envelope
from longboat.agents import Agent, Context

STEP_LATENCIES: list[float] = []


def build(
    durability: str, input_topic: str, output_topic: str, *, max_in_flight: int = 64
) -> Agent:
    """A one-step agent: record the input through a step, emit it."""
    agent = Agent(
        "bench",
        topics=[input_topic],
        tasks=False,
        durability=durability,
        max_in_flight=max_in_flight,
    )

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        started = time.perf_counter()
        value: JsonValue = await ctx.step("echo", _echo, event.data)
        STEP_LATENCIES.append(time.perf_counter() - started)
        ctx.emit(output_topic, event.caused(type="bench.out", source="/bench", data=value))
        return None

    return agent


def _echo(value: JsonValue) -> JsonValue:
    return value


# For `longboat run agent bench.bench_agent:agent` (peak-RSS measurement): a subprocess.
agent = build(
    os.environ.get("BENCH_DURABILITY", "async"),
    os.environ.get("BENCH_INPUT", "bench.in"),
    os.environ.get("BENCH_OUTPUT", "bench.out"),
)
