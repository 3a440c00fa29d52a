"""The agent's HTTP port: liveness, readiness and Prometheus metrics of a running agent."""

from __future__ import annotations

import aiohttp
from pydantic import JsonValue

from longboat import Envelope
from longboat.agents import Agent, Context
from tests.integration.agents.conftest import AgentWorld, running


async def test_livez_readyz_and_metrics(world: AgentWorld) -> None:
    """/livez and /readyz are 200 while partitions are held; /metrics counts records."""
    await world.create("watched")
    agent = Agent("watched", topics=[world.input_topic])

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        value: JsonValue = await ctx.step("echo", lambda v: v, event.data)
        ctx.emit(world.output_topic, event.caused(type="t.out", source="/t", data=value))
        return None

    await world.publish([("a", 1), ("b", 2), ("c", 3)])
    async with running(agent, world.agent_settings(instance="i1")) as runner:
        await world.read(world.output_topic, 3)
        base = f"http://127.0.0.1:{runner.port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/livez") as live:
                assert live.status == 200
            async with http.get(f"{base}/readyz") as ready:
                assert ready.status == 200
            async with http.get(f"{base}/metrics") as metrics:
                text = await metrics.text()
        runner.shutdown()
        assert not runner.ready()  # a stopping agent must leave load balancers' rotation
    assert 'longboat_agent_records_processed_total{agent="watched",outcome="completed"} 3.0' in text
    step = 'longboat_agent_step_duration_seconds_count{agent="watched",outcome="ok",step="echo"}'
    assert f"{step} 3.0" in text
    assert "longboat_agent_checkpoints_total" in text
    assert "longboat_agent_consumer_lag" in text
