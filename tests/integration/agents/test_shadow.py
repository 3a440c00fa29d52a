"""Shadow runs on the real broker: a candidate over recorded runs has no side effect, and the
report shows the decisions that changed."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from longboat import Envelope, EnvelopeSerde
from longboat.agents import (
    SHADOW_TOPIC_HEADER,
    Agent,
    Context,
    ShadowWindow,
    list_runs,
    read_decisions,
    run_shadow,
    shadow_group,
    shadow_output_topic,
    shadow_report,
    shadow_topic,
)
from longboat.cli._shadow import require_clean_shadow
from longboat.errors import UsageError
from longboat.kafka import Admin, TopicPartition
from tests.helpers import assert_eventually
from tests.integration.agents.conftest import AgentWorld, read_all, read_committed, running

CALLS: Counter[str] = Counter()


async def _score(amount: int) -> int:
    CALLS["score"] += 1
    return amount


async def _charge(amount: int) -> str:
    CALLS["charge"] += 1  # the side effect a shadow must never repeat
    return f"charged {amount}"


async def _notify(amount: int) -> None:
    CALLS["notify"] += 1


def _payer(name: str, world: AgentWorld, *, threshold: int, notify: bool = False) -> Agent:
    agent = Agent(name, topics=[world.input_topic])

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> None:
        assert isinstance(event.data, dict)
        amount = int(str(event.data["amount"]))
        approve = await ctx.step("score", _score, amount) > threshold
        if approve:
            await ctx.step("charge", _charge, amount)
            if notify:
                await ctx.step("notify", _notify, amount)
        decided = event.caused(type="payer.decided", source="/payer", data={"approve": approve})
        ctx.emit(world.output_topic, decided)

    return agent


async def test_a_shadow_run_has_no_side_effect_and_its_report_shows_the_changes(
    world: AgentWorld, unique: str, tmp_path: Path
) -> None:
    """Candidate (threshold 30, a new notify step) over 3 runs: nothing runs, 2 runs changed."""
    name = f"payer-{unique}"
    await world.create(name)
    await world.publish([("a", {"amount": 5}), ("b", {"amount": 20}), ("c", {"amount": 50})])
    CALLS.clear()
    async with running(_payer(name, world, threshold=10), world.agent_settings(instance="p1")):
        await world.read(world.output_topic, 3)

        async def completed() -> int:
            runs = await list_runs(world.kafka, world.names, name, status="completed")
            return len(runs)

        await assert_eventually(completed, lambda n: n == 3, timeout_s=30, what="3 runs done")
    assert Counter(score=3, charge=2) == CALLS

    CALLS.clear()
    candidate = _payer(name, world, threshold=30, notify=True)
    decisions = await run_shadow(
        world.kafka, world.names, candidate, candidate_version="2.0", window=ShadowWindow()
    )
    assert Counter() == CALLS  # every step served from production or refused: no side effect
    assert len(await world.read(world.output_topic, 3)) == 3  # nothing written to real topics
    by_amount = {d.offset: d for d in decisions}
    assert len(by_amount) == 3
    intents = [d.intents for d in decisions if d.intents]
    assert intents == [("step:notify",)]  # the candidate wanted to notify; it was not run

    recorded = await read_decisions(world.kafka, world.names, name, candidate_version="2.0")
    assert recorded == decisions
    report = await shadow_report(world.kafka, recorded)
    verdicts = {
        r.input.rsplit("@", 1)[1]: {d.decision: d.verdict for d in r.decisions} for r in report.runs
    }
    changed = [r for r in report.runs if not r.clean]
    assert len(changed) == 2
    assert report.summary == {"same": 3, "changed": 2, "new": 0, "missing": 1}
    assert not report.clean
    flipped = [
        d
        for r in report.runs
        for d in r.decisions
        if d.decision.startswith("output:") and d.verdict == "changed"
    ]
    assert [(f.production, f.candidate) for f in flipped] == [
        (
            {"type": "payer.decided", "data": {"approve": True}},
            {"type": "payer.decided", "data": {"approve": False}},
        )
    ]
    assert sorted(v["outcome"] for v in verdicts.values()) == ["changed", "same", "same"]

    # The gate on canary -> active: this report blocks the promotion, a clean one passes it.
    blocked = tmp_path / "report.json"
    blocked.write_text(report.model_dump_json())
    with pytest.raises(UsageError, match="not clean"):
        require_clean_shadow(blocked, agent=name, version="2.0")
    with pytest.raises(UsageError, match=r"--version 2\.0"):
        require_clean_shadow(blocked, agent=name, version="1.9")
    same = _payer(name, world, threshold=10)
    await run_shadow(
        world.kafka, world.names, same, candidate_version="2.1", window=ShadowWindow(to_offset=5)
    )
    assert Counter() == CALLS
    clean = await shadow_report(world.kafka, await read_decisions(world.kafka, world.names, name))
    assert clean.clean
    assert clean.candidate_version == "2.1"
    assert clean.summary == {"same": 6, "changed": 0, "new": 0, "missing": 0}
    passed = tmp_path / "clean.json"
    passed.write_text(clean.model_dump_json())
    require_clean_shadow(passed, agent=name, version="2.1")


def _screener(name: str, world: AgentWorld, *, refund: bool) -> Agent:
    """Small amounts are passed without a step (no journalled run); large ones are scored."""
    agent = Agent(name, topics=[world.input_topic])

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> None:
        assert isinstance(event.data, dict)
        amount = int(str(event.data["amount"]))
        if amount >= 10:
            await ctx.step("score", _score, amount)
            if refund and amount >= 60:
                await ctx.memory.put("claims", f"k{amount}", amount)  # never written by a shadow
            if refund:
                await ctx.tool("refund", {"amount": amount})  # never executed by a shadow
        decided = event.caused(type="screen.done", source="/screen", data={"amount": amount})
        ctx.emit(world.output_topic, decided)

    return agent


async def _offsets(world: AgentWorld, group: str) -> dict[TopicPartition, int]:
    async with Admin(world.kafka) as admin:
        return await admin.group_offsets(group)


async def test_a_shadow_reads_real_inputs_in_its_own_group_and_writes_shadow_topics(
    world: AgentWorld, unique: str
) -> None:
    """The shadow group advances, production's does not; outputs land on the shadow topic only."""
    name = f"screen-{unique}"
    await world.create(name)
    inputs = await world.publish(
        [("a", {"amount": 1}), ("b", {"amount": 50}), ("c", {"amount": 2}), ("d", {"amount": 70})]
    )
    CALLS.clear()
    prod_settings = world.agent_settings(instance="p1")
    production_group = _screener(name, world, refund=False).group_id(world.names)
    tp = TopicPartition(world.input_topic, 0)

    async def production_at(offset: int) -> None:
        async with running(_screener(name, world, refund=False), prod_settings):
            await assert_eventually(
                lambda: _offsets(world, production_group),
                lambda o: o.get(tp) == offset,
                timeout_s=30,
                what=f"production committed {offset}",
            )

    await production_at(4)
    runs = await list_runs(world.kafka, world.names, name)
    assert [r.offset for r in runs] == [1, 3]  # only the scored inputs journalled a step
    assert Counter(score=2) == CALLS
    before = await _offsets(world, production_group)

    CALLS.clear()
    candidate = _screener(name, world, refund=True)
    first = await run_shadow(
        world.kafka, world.names, candidate, candidate_version="3.0", window=ShadowWindow()
    )
    assert Counter() == CALLS  # the score step was served, the refund tool never called
    assert [(d.offset, d.production_journalled, d.intents) for d in first] == [
        (0, False, ()),
        (1, True, ("tool:refund",)),
        (2, False, ()),
        (3, True, ("memory.put:claims/k70",)),
    ]
    assert await _offsets(world, production_group) == before  # production's group untouched
    shadow = shadow_group(world.names, name, "3.0")
    assert await _offsets(world, shadow) == {tp: 4}
    assert len(await read_all(world.kafka, world.output_topic)) == 4  # production's 4 only
    written = await read_committed(world.kafka, shadow_output_topic(world.names, name), 2)
    serde = EnvelopeSerde()
    assert [dict(r.headers)[SHADOW_TOPIC_HEADER] for r in written] == [
        world.output_topic.encode()
    ] * 2
    caused = [serde.decode(r.value, r.headers).causationid for r in written]
    assert caused == [inputs[0].id, inputs[2].id]  # inputs 1 and 3 stopped at their intents
    report = await shadow_report(world.kafka, await read_decisions(world.kafka, world.names, name))
    assert report.summary == {"same": 4, "changed": 2, "new": 1, "missing": 2}

    # Inputs production has not finished wait; the shadow group continues where it stopped.
    later = await world.publish([("e", {"amount": 3}), ("f", {"amount": 4})])
    none_yet = await run_shadow(
        world.kafka, world.names, candidate, candidate_version="3.0", window=ShadowWindow()
    )
    assert none_yet == []
    await production_at(6)
    CALLS.clear()
    caught_up = await run_shadow(
        world.kafka, world.names, candidate, candidate_version="3.0", window=ShadowWindow()
    )
    assert [d.input_id for d in caught_up] == [e.id for e in later]
    assert await _offsets(world, shadow) == {tp: 6}
    assert Counter() == CALLS


async def test_a_following_shadow_trails_production_until_stopped(
    world: AgentWorld, unique: str
) -> None:
    """With follow, each input production finishes is shadowed as it comes; stop ends it."""
    name = f"follow-{unique}"
    await world.create(name)
    seen: list[str] = []
    stop = asyncio.Event()
    candidate = _screener(name, world, refund=False)
    async with running(_screener(name, world, refund=False), world.agent_settings(instance="p1")):
        shadowing = asyncio.create_task(
            run_shadow(
                world.kafka,
                world.names,
                candidate,
                candidate_version="4.0",
                window=ShadowWindow(),
                follow=True,
                stop=stop,
                on_decision=lambda d: seen.append(d.input_id or ""),
            )
        )
        published = await world.publish([("a", {"amount": 1}), ("b", {"amount": 60})])
        await world.publish_raw(b"not an event")  # production dead-letters it undecoded

        async def shadowed() -> list[str]:
            if shadowing.done():
                shadowing.result()  # surface the shadow's error instead of waiting
            return seen

        await assert_eventually(shadowed, lambda s: len(s) == 3, timeout_s=60, what="3 shadowed")
        stop.set()
        decisions = await shadowing
    assert [d.input_id for d in decisions] == [e.id for e in published] + [None]
    outcomes = [(d.production_outcome, d.outcome) for d in decisions]
    assert outcomes == [("completed", "completed")] * 2 + [("dead_lettered", "dead_lettered")]
    report = await shadow_report(world.kafka, decisions)
    assert report.clean  # the junk record is dead-lettered alike: not a change


async def test_a_window_is_input_offsets_or_record_times(world: AgentWorld, unique: str) -> None:
    """A start time seeks by the time index; an offset range ends a shadow, even a following one."""
    name = f"window-{unique}"
    await world.create(name)
    await world.publish([("a", {"amount": 1}), ("b", {"amount": 2})])
    early = await read_committed(world.kafka, world.input_topic, 2)
    last_early = max(r.timestamp_ms for r in early)
    await assert_eventually(
        lambda: _now_ms(), lambda now: now > last_early, what="the clock past the first inputs"
    )
    await world.publish([("c", {"amount": 3}), ("d", {"amount": 4})])
    late = [r for r in await read_committed(world.kafka, world.input_topic, 4) if r.offset >= 2]
    since = datetime.fromtimestamp(min(r.timestamp_ms for r in late) / 1000, UTC)
    production = _screener(name, world, refund=False)
    async with running(production, world.agent_settings(instance="p1")):
        await assert_eventually(
            lambda: _offsets(world, production.group_id(world.names)),
            lambda o: sum(o.values()) == 4,
            what="production finished 4 inputs",
        )

    timed = await run_shadow(
        world.kafka,
        world.names,
        production,
        candidate_version="t",
        window=ShadowWindow(since=since),
    )
    assert [d.offset for d in timed] == [2, 3]
    report = await shadow_report(world.kafka, timed)
    assert report.clean  # production's outputs found from the earliest input's time on
    ranged = await run_shadow(
        world.kafka,
        world.names,
        production,
        candidate_version="o",
        window=ShadowWindow(from_offset=1, to_offset=2),
        follow=True,  # no stop needed: the window ends
    )
    assert [d.offset for d in ranged] == [1, 2]


async def _now_ms() -> int:
    return int(time.time() * 1000)


async def test_a_stopped_shadow_resumes_and_records_each_input_once(
    world: AgentWorld, unique: str
) -> None:
    """A shadow cancelled mid-batch recorded nothing of it; the next run takes every input once."""
    name = f"resume-{unique}"
    await world.create(name)
    await world.publish([(k, {"amount": n}) for n, k in enumerate("abc")])
    production = _screener(name, world, refund=False)
    async with running(production, world.agent_settings(instance="p1")):
        await assert_eventually(
            lambda: _offsets(world, production.group_id(world.names)),
            lambda o: sum(o.values()) == 3,
            what="production finished 3 inputs",
        )
    reached = asyncio.Event()
    stuck = Agent(name, topics=[world.input_topic])

    @stuck.handler
    async def hang(ctx: Context, event: Envelope) -> None:
        reached.set()
        await asyncio.Event().wait()  # the shadow is stopped here, mid-batch

    first = asyncio.create_task(
        run_shadow(world.kafka, world.names, stuck, candidate_version="5.0", window=ShadowWindow())
    )
    await asyncio.wait_for(reached.wait(), timeout=60)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    shadow = shadow_group(world.names, name, "5.0")
    assert await _offsets(world, shadow) == {}  # the batch in hand committed no offset

    again = await run_shadow(
        world.kafka, world.names, production, candidate_version="5.0", window=ShadowWindow()
    )
    assert [d.offset for d in again] == [0, 1, 2]
    recorded = await read_committed(world.kafka, shadow_topic(world.names, name), 3)
    assert sorted(Counter(r.key for r in recorded).values()) == [1, 1, 1]  # each input once
    assert await _offsets(world, shadow) == {TopicPartition(world.input_topic, 0): 3}
