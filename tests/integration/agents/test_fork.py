"""Fork after a fix, on the real broker: reused steps do not run again, the rest do."""

from __future__ import annotations

from pathlib import Path

from longboat.agents import fork_run, load_trace, read_trace, replay_trace, write_trace
from tests.integration.agents.conftest import AgentWorld, running
from tests.unit.agents.replay_agents import COUNTS, build


async def _dead_lettered_run(world: AgentWorld) -> str:
    buggy = build("tenstep", bug=True, topic=world.input_topic, out=world.output_topic)
    await world.create("tenstep")
    await world.publish([("k-1", {"amount": 7})])
    async with running(buggy, world.agent_settings(instance="i1")):
        letters = await world.read(world.names.dlq("tenstep"), 1)
    run_id = letters[0].data["run_id"] if isinstance(letters[0].data, dict) else None
    assert isinstance(run_id, str)
    return run_id


async def test_fork_after_a_fix_reruns_only_the_failed_step(world: AgentWorld) -> None:
    """A fork of a run that failed at step 10 reuses steps 1-9 and runs step 10 on fixed code."""
    COUNTS.clear()
    parent = await _dead_lettered_run(world)
    assert {f"s{n}": 1 for n in range(1, 11)} == COUNTS

    COUNTS.clear()
    fixed = build("tenstep", topic=world.input_topic, out=world.output_topic)
    trace = await load_trace(world.kafka, world.names, parent)
    report = await fork_run(fixed, trace, settings=world.agent_settings())

    assert COUNTS == {"s10": 1}  # steps 1-9 came from the journal, step 10 ran
    assert (report.from_step, report.reused, report.executed) == (10, 9, 1)
    assert report.outcome == "completed"
    outputs = await world.read(world.output_topic, 1)
    assert [o.data for o in outputs] == [{"total": 7 * 9 + 45 - 4}]

    forked = await load_trace(world.kafka, world.names, report.fork_id)
    assert (forked.header.forked_from, forked.header.fork_from_step) == (parent, 10)
    assert forked.header.outcome == "completed"
    assert forked.header.event == trace.header.event
    again = await load_trace(world.kafka, world.names, parent)
    assert again.forks == [report.fork_id]
    assert again.header.outcome == "dead_lettered"
    # Steps before N are the parent's calls; from N on every key is new.
    assert [s.fingerprint for s in forked.steps[:9]] == [s.fingerprint for s in trace.steps[:9]]
    assert forked.steps[9].fingerprint != trace.steps[9].fingerprint
    assert forked.steps[9].status == "completed"


async def test_a_second_fork_from_an_earlier_step_gets_a_new_id(world: AgentWorld) -> None:
    """Forking again from step 4 runs steps 4-10 once more under a second, distinct fork id."""
    COUNTS.clear()
    parent = await _dead_lettered_run(world)
    fixed = build("tenstep", topic=world.input_topic, out=world.output_topic)
    first = await fork_run(
        fixed, await load_trace(world.kafka, world.names, parent), settings=world.agent_settings()
    )
    COUNTS.clear()
    second = await fork_run(
        fixed,
        await load_trace(world.kafka, world.names, parent),
        settings=world.agent_settings(),
        from_step=4,
    )
    assert second.fork_id != first.fork_id
    assert {f"s{n}": 1 for n in range(4, 11)} == COUNTS
    assert (second.reused, second.executed) == (3, 7)
    parent_trace = await load_trace(world.kafka, world.names, parent)
    assert parent_trace.forks == [first.fork_id, second.fork_id]
    assert len(await world.read(world.output_topic, 2)) == 2


async def test_a_forks_own_trace_replays_clean(world: AgentWorld, tmp_path: Path) -> None:
    """Replaying a fork's trace (exported to a file) re-applies its key chain: no divergence."""
    COUNTS.clear()
    parent = await _dead_lettered_run(world)
    fixed = build("tenstep", topic=world.input_topic, out=world.output_topic)
    trace = await load_trace(world.kafka, world.names, parent)
    report = await fork_run(fixed, trace, settings=world.agent_settings(), from_step=6)
    forked = await load_trace(world.kafka, world.names, report.fork_id)
    write_trace(forked, tmp_path / "fork.jsonl")

    COUNTS.clear()
    replayed = await replay_trace(fixed, read_trace(tmp_path / "fork.jsonl"))
    assert replayed.divergence is None
    assert replayed.next_step is None
    assert (replayed.served, replayed.executed, replayed.outcome) == (10, 0, "completed")
    assert COUNTS == {}  # every step, before and after N, came from the trace
    # Its parent still replays on its own chain: the fixed code takes steps 1-9 as recorded.
    again = await replay_trace(fixed, trace)
    assert again.divergence is None
    assert again.served == 9
