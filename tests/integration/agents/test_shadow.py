"""Shadow runs on the real broker: a candidate over recorded runs has no side effect, and the
report shows the decisions that changed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from longboat import Envelope
from longboat.agents import (
    Agent,
    Context,
    ShadowWindow,
    list_runs,
    read_decisions,
    run_shadow,
    shadow_report,
)
from longboat.cli._shadow import require_clean_shadow
from longboat.errors import UsageError
from tests.helpers import assert_eventually
from tests.integration.agents.conftest import AgentWorld, running

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
