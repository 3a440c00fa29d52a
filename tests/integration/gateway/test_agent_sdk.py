"""ctx.memory and ctx.tool from a running agent, through a running gateway."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import JsonValue

from longboat import Envelope, TopicSpec
from longboat.agents import Agent, AgentRuntimeSettings, AgentSettings, Context, list_dead_letters
from longboat.gateway import MEMORY_AUDITS
from longboat.kafka import Admin
from longboat.registry import write_private_key
from tests.helpers import assert_eventually
from tests.integration.agents.conftest import AgentWorld, read_all, running
from tests.integration.gateway import tools_for_tests
from tests.integration.gateway.conftest import GatewayWorld, serving


async def test_agent_uses_memory_and_tools_through_the_gateway(
    world: GatewayWorld, tmp_path: Path, unique: str
) -> None:
    """Memory writes carry the run's provenance; a tool's idempotency key is the step's fp."""
    tools_for_tests.CALLS.clear()
    issuer = await world.enroll("claims", "memory:claims", "tool:payments")
    key_file = tmp_path / "claims.key"
    write_private_key(
        issuer._key, key_file
    )  # the enrolled key, as `agents enroll` would have written it
    await world.publish()
    input_topic, output_topic = f"in.{unique}", f"out.{unique}"
    async with Admin(world.settings.kafka) as admin:
        await admin.ensure_topics(
            [
                *world.names.agent_topics("claims", partitions=1),
                TopicSpec(input_topic, 1),
                TopicSpec(output_topic, 1),
            ]
        )
    agent = Agent("claims", topics=[input_topic], version="1.0")

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        claim = dict(event.data)  # type: ignore[arg-type]
        if claim.get("bank"):
            await ctx.memory.put(str(claim["bank"]), "x", "should be denied")
        await ctx.memory.put("claims", str(claim["id"]), {"status": "triaged"})
        remembered = await ctx.memory.get("claims", str(claim["id"]))
        receipt = await ctx.tool("payments", {"claim": claim["id"], "amount": 50})
        ctx.emit(
            output_topic,
            event.caused(
                type="t.out", source="/t", data={"memory": remembered, "receipt": receipt}
            ),
        )
        return None

    agent_world = AgentWorld(
        world.settings, world.names, world.settings.kafka, input_topic, output_topic
    )
    async with serving(world) as gateway:
        settings = AgentSettings(
            kafka=world.settings.kafka,
            topic_prefix=world.settings.topic_prefix,
            gateway_url=f"http://127.0.0.1:{gateway.port}",
            registry_url="http://127.0.0.1:9",
            agent=AgentRuntimeSettings(
                instance="pod-1", http_port=0, key_file=key_file, heartbeat_s=60
            ),
        )
        events = await agent_world.publish(
            [("c-1", {"id": "c-1"}), ("c-2", {"id": "c-2", "bank": "customers"})]
        )
        async with running(agent, settings):
            outputs = await agent_world.read(output_topic, 1)
            letters = await assert_eventually(
                lambda: list_dead_letters(world.settings.kafka, world.names.dlq("claims")),
                lambda found: len(found) >= 1,
                what="denied run dead-lettered",
            )
    assert outputs[0].data["memory"] == {"status": "triaged"}  # type: ignore[index,call-overload]
    assert outputs[0].data["receipt"]["receipt"] == "r-1"  # type: ignore[index,call-overload]
    assert letters[0].letter.error_type == "StepFailed"
    assert "policy denied" in letters[0].letter.message
    audit = [
        MEMORY_AUDITS.decode_value(r.value or b"")
        for r in await read_all(world.settings.kafka, world.names.memory_audit)
    ]
    assert [(a.key, a.provenance.agent, a.provenance.source_event) for a in audit] == [
        ("c-1", "claims", events[0].id)
    ]
    journal = [
        json.loads(r.value or b"{}")
        for r in await read_all(world.settings.kafka, world.names.journal("claims"))
    ]
    tool_fp = next(
        j["fp"] for j in journal if j["name"] == "longboat.tool" and j["state"] == "completed"
    )
    assert [key for _, key in tools_for_tests.CALLS] == [f"claims:{tool_fp}"]
