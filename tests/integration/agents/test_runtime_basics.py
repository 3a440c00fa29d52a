"""The agent runtime against the real broker: outputs, results, DLQ, ordering, modes."""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic import JsonValue

from longboat import Envelope, EnvelopeSerde
from longboat.agents import (
    Agent,
    AgentRunner,
    Context,
    RetryPolicy,
    list_dead_letters,
    replay_dead_letters,
)
from longboat.errors import ConfigError, RetryableError, UsageError
from longboat.kafka import Producer
from tests.helpers import assert_eventually
from tests.integration.agents.conftest import AgentWorld, read_all, running


def _echo_agent(world: AgentWorld, name: str, **options: object) -> Agent:
    agent = Agent(name, topics=[world.input_topic], **options)  # type: ignore[arg-type]

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        doubled: JsonValue = await ctx.step("double", lambda n: n * 2, event.data)
        ctx.emit(world.output_topic, event.caused(type="test.output", source="/t", data=doubled))
        return doubled

    return agent


async def test_every_input_gives_exactly_one_output(world: AgentWorld) -> None:
    """Records published before and while the agent runs each produce one output."""
    await world.create("echo")
    await world.publish([("a", 1), ("b", 2)])
    agent = _echo_agent(world, "echo")
    async with running(agent, world.agent_settings(instance="i1")):
        await world.publish([("c", 3)])
        outputs = await world.read(world.output_topic, 3)
    assert sorted(e.data for e in outputs) == [2, 4, 6]  # type: ignore[type-var]


async def test_task_input_gives_a_result_and_progress(world: AgentWorld) -> None:
    """A task yields longboat.task.completed on results, keyed by workflow, plus progress."""
    await world.create("echo")
    agent = _echo_agent(world, "echo")
    task = Envelope(type="longboat.task", source="/coordinator", data=21, workflowid="wf-42")
    async with running(agent, world.agent_settings(instance="i1")):
        serde = EnvelopeSerde()
        encoded = serde.encode(task)
        async with Producer(world.kafka) as producer:
            await producer.send(
                world.names.tasks("echo"), encoded.value, key=b"wf-42", headers=encoded.headers
            )
        results = await world.read(world.names.results, 1)
        progress = await world.read(world.names.progress, 1)
    assert results[0].type == "longboat.task.completed"
    assert results[0].workflowid == "wf-42"
    assert results[0].causationid == task.id
    assert results[0].data == {"task_id": task.id, "agent": "echo", "output": 42}
    assert progress[0].data["status"] == "completed"  # type: ignore[index,call-overload]


async def test_malformed_and_failing_records_reach_the_dlq_and_replay_works(
    world: AgentWorld,
) -> None:
    """Undecodable and failing records are dead-lettered with reasons; replay reprocesses them."""
    await world.create("picky")
    allow_odd = {"value": False}
    agent = Agent(
        "picky",
        topics=[world.input_topic],
        retry=RetryPolicy(max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.01),
    )

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        def check(n: int) -> int:
            if n % 2 and not allow_odd["value"]:
                raise RetryableError(f"{n} is odd")
            return n

        value: JsonValue = await ctx.step("check", check, event.data)
        ctx.emit(world.output_topic, event.caused(type="test.output", source="/t", data=value))
        return value

    settings = world.agent_settings(instance="i1")
    async with running(agent, settings):
        await world.publish_raw(b"\xff not an event", key=b"bad")
        await world.publish([("k1", 2), ("k2", 3)])
        outputs = await world.read(world.output_topic, 1)
        letters = await assert_eventually(
            lambda: list_dead_letters(world.kafka, world.names.dlq("picky")),
            lambda ls: len(ls) >= 2,
            what="two dead letters",
        )
    assert [e.data for e in outputs] == [2]
    by_type = {entry.letter.error_type: entry.letter for entry in letters}
    assert by_type["EventDecodeError"].attempts == 1
    assert by_type["EventDecodeError"].offset == 0
    assert by_type["StepFailed"].attempts == 3
    assert "3 is odd" in by_type["StepFailed"].message
    assert by_type["StepFailed"].offset == 2

    allow_odd["value"] = True
    failed = [e for e in letters if e.letter.error_type == "StepFailed"]
    replayed = await replay_dead_letters(world.kafka, world.names.dlq("picky"), ids={failed[0].id})
    assert [e.id for e in replayed] == [failed[0].id]
    async with running(agent, settings):
        outputs = await world.read(world.output_topic, 2)
    assert sorted(e.data for e in outputs) == [2, 3]  # type: ignore[type-var]
    after = await list_dead_letters(world.kafka, world.names.dlq("picky"))
    assert {e.id for e in after if e.replayed} == {failed[0].id}
    with pytest.raises(UsageError, match="already replayed"):
        await replay_dead_letters(world.kafka, world.names.dlq("picky"), ids={failed[0].id})


async def test_same_key_in_order_different_keys_concurrently(world: AgentWorld) -> None:
    """With max_in_flight > 1, one key's records run in order while other keys overlap them."""
    await world.create("order")
    log: list[tuple[str, str, int]] = []
    active = {"now": 0, "max": 0}
    agent = Agent("order", topics=[world.input_topic], max_in_flight=8, durability="async")

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        key = (ctx.record.key or b"").decode()
        seq = int(str(event.data))
        log.append(("start", key, seq))
        active["now"] += 1
        active["max"] = max(active["max"], active["now"])
        await asyncio.sleep(0.2 if key == "slow" else 0.01)
        active["now"] -= 1
        log.append(("end", key, seq))
        ctx.emit(world.output_topic, event.caused(type="test.output", source="/t", data=[key, seq]))
        return None

    items: list[tuple[str | None, JsonValue]] = []
    for seq in range(5):
        items += [("slow", seq), ("fast-a", seq), ("fast-b", seq)]
    await world.publish(items)
    async with running(agent, world.agent_settings(instance="i1")):
        outputs = await world.read(world.output_topic, 15)
    assert len(outputs) == 15
    for key in ("slow", "fast-a", "fast-b"):
        starts = [seq for kind, k, seq in log if kind == "start" and k == key]
        assert starts == list(range(5)), key
        # a record of a key starts only after the previous one of that key ended
        for seq in range(1, 5):
            assert log.index(("end", key, seq - 1)) < log.index(("start", key, seq))
    assert active["max"] >= 3  # different keys really ran at once
    fast_done = log.index(("end", "fast-a", 4))
    assert fast_done < log.index(("end", "slow", 2))  # fast keys were not stalled behind slow


@pytest.mark.parametrize(
    ("mode", "states"),
    [("sync", {"started", "completed"}), ("async", {"started", "completed"}), ("exit", set())],
)
async def test_durability_modes_journal_as_documented(
    world: AgentWorld, mode: str, states: set[str]
) -> None:
    """sync and async journal every step (started, completed); exit journals nothing."""
    name = f"mode-{mode}"
    await world.create(name)
    agent = _echo_agent(world, name, durability=mode)
    await world.publish([("a", 1), ("b", 2)])
    async with running(agent, world.agent_settings(instance="i1")):
        await world.read(world.output_topic, 2)
    journal = await read_all(world.kafka, world.names.journal(name))
    seen = {json.loads(r.value or b"{}")["state"] for r in journal}
    assert seen == states
    if states:
        steps = [json.loads(r.value or b"{}") for r in journal]
        assert {s["name"] for s in steps} == {"double"}
        assert {s["offset"] for s in steps} == {0, 1}


async def test_an_idle_partition_commits_without_waiting_for_the_timer(world: AgentWorld) -> None:
    """Adaptive checkpoints: with a 10-minute timer, each output is committed once its run ends."""
    await world.create("eager")
    agent = _echo_agent(world, "eager")
    settings = world.agent_settings(
        instance="i1", checkpoint_ms=600_000, checkpoint_records=100_000
    )
    async with running(agent, settings):
        await world.publish([("a", 1)])
        first = await world.read(world.output_topic, 1)
        await world.publish([("b", 2)])
        both = await world.read(world.output_topic, 2)
    assert [e.data for e in first] == [2]
    assert sorted(e.data for e in both) == [2, 4]  # type: ignore[type-var]


async def test_missing_topics_fail_the_start_naming_them_and_the_fix(world: AgentWorld) -> None:
    """An agent whose input topic is missing does not start: the error names it and the command."""
    await world.create("gap")
    agent = Agent("gap", topics=[f"{world.input_topic}.missing"])
    agent.handler(_noop)
    with pytest.raises(ConfigError, match=r"missing topics .*\.missing.*longboat topics create"):
        async with AgentRunner(agent, world.agent_settings(instance="i1")):
            pass


async def _noop(ctx: Context, event: Envelope) -> JsonValue:
    return None
