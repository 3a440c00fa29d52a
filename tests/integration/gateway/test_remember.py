"""ctx.memory.remember against a running gateway: curation and PII refusal (real OPA)."""

from __future__ import annotations

import asyncio
import json

from click.testing import CliRunner
from pydantic import JsonValue

from longboat import Envelope
from longboat.agents import Agent, Context, StepFailed
from longboat.agents.testing import AgentTestEnvironment
from longboat.cli import cli
from longboat.gateway import MEMORY_AUDITS
from tests.integration.agents.conftest import read_all
from tests.integration.gateway.conftest import GatewayWorld, client, serving


def _curator() -> Agent:
    agent = Agent("curator", topics=["notes"], version="1.0")

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        note = dict(event.data)  # type: ignore[arg-type]
        changes = await ctx.memory.remember(str(note["bank"]), "alice", str(note["text"]))
        return [change.model_dump(mode="json") for change in changes]

    return agent


def _note(bank: str, text: str) -> Envelope:
    return Envelope(type="note", source="/t", data={"bank": bank, "text": text})


async def test_curation_updates_rather_than_duplicates_a_repeated_fact(
    world: GatewayWorld,
) -> None:
    """Same fact: unchanged; a restated fact: a new revision of the same key; never a copy.

    `longboat memory drift` then reports both writes, their writer and policy digest.
    """
    issuer = await world.enroll("curator", "memory:public")
    bundle = await world.publish()
    async with serving(world) as gateway, client(gateway, issuer) as gw:
        env = AgentTestEnvironment(_curator(), gateway=gw)
        first = await env.run(_note("public", "Alice prefers email updates on mondays."))
        again = await env.run(_note("public", "Alice prefers email updates on mondays."))
        moved = await env.run(_note("public", "Alice prefers email updates on fridays."))
        remembered = await gw.memory_search("public", "alice email", scope="alice")
        unscoped = await gw.memory_search("public", "alice email")
    assert isinstance(first.value, list)
    assert isinstance(again.value, list)
    assert isinstance(moved.value, list)
    [added], [same], [updated] = first.value, again.value, moved.value
    assert isinstance(added, dict)
    assert isinstance(same, dict)
    assert isinstance(updated, dict)
    assert (added["op"], added["revision"]) == ("add", 1)
    assert (same["op"], same["key"]) == ("unchanged", added["key"])
    assert (updated["op"], updated["key"], updated["revision"]) == ("update", added["key"], 2)
    assert [item["value"] for item in remembered] == [
        {"fact": "Alice prefers email updates on fridays."}
    ]
    assert unscoped == []  # the facts are Alice's: scoped
    env_vars = {
        "LONGBOAT_KAFKA__BOOTSTRAP_SERVERS": world.settings.kafka.bootstrap_servers,
        "LONGBOAT_TOPIC_PREFIX": world.settings.topic_prefix,
    }
    args = ["memory", "drift", "public", "--json", "--flag-at", "1"]
    result = await asyncio.to_thread(CliRunner().invoke, cli, args, env=env_vars)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["changes"], report["added"], report["updated"]) == (2, 1, 1)
    assert report["by_writer"] == {"curator@1.0": 2}
    assert report["by_policy"] == {bundle.digest: 2}
    assert [flag["source"] for flag in report["flags"]] == ["agent curator@1.0"]


async def test_pii_in_generated_memories_is_refused_like_any_write(world: GatewayWorld) -> None:
    """A generated fact holding an email address is refused by the bank's PII policy."""
    issuer = await world.enroll("curator", "memory:public")
    await world.publish()
    async with serving(world) as gateway, client(gateway, issuer) as gw:
        env = AgentTestEnvironment(_curator(), gateway=gw)
        run = await env.run(_note("public", "Alice can be reached at alice@example.com."))
        remembered = await gw.memory_search("public", "alice reached", scope="alice")
    assert isinstance(run.error, StepFailed)
    assert "bank public is not classified for email" in str(run.error)
    assert remembered == []


async def test_a_fact_no_longer_true_retires_the_memory_it_matches(world: GatewayWorld) -> None:
    """A contradicted fact is deleted (audited, with the run's provenance); its successor added."""
    issuer = await world.enroll("curator", "memory:public")
    await world.publish()
    async with serving(world) as gateway, client(gateway, issuer) as gw:
        env = AgentTestEnvironment(_curator(), gateway=gw)
        await env.run(_note("public", "Alice lives in Oslo."))
        await env.run(_note("public", "Alice keeps a cat called Tom."))
        event = _note("public", "Alice no longer lives in Oslo. Alice lives in Bergen now.")
        moved = await env.run(event)
        nothing = await env.run(_note("public", "Carol no longer owns a boat."))
        remembered = await gw.memory_search("public", "", scope="alice")
    assert isinstance(moved.value, list)
    ops = [(c["op"], c["fact"]) for c in moved.value if isinstance(c, dict)]
    assert ops == [("retire", "Alice lives in Oslo."), ("add", "Alice lives in Bergen now.")]
    assert nothing.value == []  # a retirement matching nothing remembered changes nothing
    assert sorted(str(item["value"]["fact"]) for item in remembered) == [
        "Alice keeps a cat called Tom.",
        "Alice lives in Bergen now.",
    ]
    audit = [
        MEMORY_AUDITS.decode_value(r.value or b"")
        for r in await read_all(world.settings.kafka, world.names.memory_audit)
    ]
    [deleted] = [a for a in audit if a.op == "delete"]
    assert deleted.previous == {"fact": "Alice lives in Oslo."}
    assert (deleted.provenance.agent, deleted.provenance.source_event) == ("curator", event.id)
