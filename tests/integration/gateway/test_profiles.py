"""Typed profiles through a running gateway: schemas from policy data, one-lookup reads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pydantic import JsonValue

from longboat import Envelope
from longboat.agents import Agent, Context
from longboat.agents.testing import AgentTestEnvironment
from longboat.gateway._client import GatewayRefused
from tests.helpers import assert_eventually
from tests.integration.gateway.conftest import POLICIES, GatewayWorld, client, serving


def _reader() -> Agent:
    agent = Agent("concierge", topics=["visits"], version="1.0")

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        return await ctx.memory.profile()

    return agent


async def test_typed_profile_writes_are_validated_and_the_profile_reads_in_one_lookup(
    world: GatewayWorld, tmp_path: Path
) -> None:
    """A value not fitting its key's schema: 422 naming the field, nothing stored; a schema
    published later applies to the next write (no redeploy); ctx.memory.profile() reads all."""
    issuer = await world.enroll("concierge")
    await world.publish()
    async with serving(world) as gateway, client(gateway, issuer) as gw:
        with pytest.raises(GatewayRefused, match=r"profile_invalid.*language: Field required"):
            await gw.profile_put("preferences", {"channel": "email"})
        with pytest.raises(GatewayRefused, match="vip"):
            await gw.profile_put("preferences", {"language": "nb", "vip": "yes"})
        assert await gw.profile_get("preferences") is None
        good: JsonValue = {"language": "nb", "channel": "phone", "contact_hours": [9, 17]}
        assert await gw.profile_put("preferences", good) == 1
        assert await gw.profile_put("style", "terse") == 1  # untyped key: any value
        run = await AgentTestEnvironment(_reader(), gateway=gw).run(
            Envelope(type="visit", source="/t", data={})
        )
        assert run.value == {"preferences": good, "style": "terse"}
        # The operator types `style` too: published policy data, the gateway keeps running.
        folder = tmp_path / "policies"
        shutil.copytree(POLICIES, folder)
        data_file = folder / "longboat" / "profiles" / "data.json"
        data = json.loads(data_file.read_text())
        data["schemas"]["style"] = {"fields": {"tone": {"type": "string", "required": True}}}
        data_file.write_text(json.dumps(data))
        bundle = await world.publish(folder)

        async def active() -> str | None:
            return gateway.policies.active.digest if gateway.policies.active else None

        await assert_eventually(active, lambda d: d == bundle.digest, what="new bundle active")
        with pytest.raises(GatewayRefused, match="profile style: the value must be an object"):
            await gw.profile_put("style", "terse")
        with pytest.raises(GatewayRefused, match="profile style: tone: Field required"):
            await gw.profile_put("style", {"mood": "terse"})
        assert await gw.profile_put("style", {"tone": "terse"}) == 2
        assert await gw.profile_read() == {"preferences": good, "style": {"tone": "terse"}}
