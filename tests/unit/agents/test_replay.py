"""Offline replay of traces: served steps, first divergence, stops, refusals, trace files."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import JsonValue

from longboat import Envelope
from longboat.agents import Agent, Context
from longboat.agents._journal import RunHistory
from longboat.agents._replay import argument_changes, replay_trace
from longboat.agents._trace import Trace, TraceHeader, read_trace, trace_steps, write_trace
from longboat.agents.testing import AgentRun, AgentTestEnvironment, InMemoryGateway
from longboat.errors import UsageError
from tests.unit.agents import replay_agents
from tests.unit.agents.replay_agents import COUNTS, build

EVENT = Envelope(type="replay.asked", source="/t", data={"amount": 7})


def _trace(agent: Agent, run: AgentRun) -> Trace:
    history = RunHistory()
    for n, record in enumerate(run.journal):
        history.add(record, n)
    header = TraceHeader(
        agent=agent.name,
        run_id=run.journal[0].run_id,
        group=f"lb.agent.{agent.name}",
        topic=run.record.topic,
        partition=run.record.partition,
        offset=run.record.offset,
        event=run.event,
        outcome="dead_lettered" if run.dead_letter else "completed",
    )
    return Trace(header=header, steps=trace_steps(history))


async def _recorded(*, bug: bool) -> Trace:
    agent = build("replayed", bug=bug)
    run = await AgentTestEnvironment(agent).run(EVENT)
    return _trace(agent, run)


async def test_same_code_is_served_entirely_from_the_trace() -> None:
    """Replaying unchanged code serves all ten steps, runs none, and is clean."""
    trace = await _recorded(bug=False)
    COUNTS.clear()
    report = await replay_trace(build("replayed"), trace)
    assert (report.served, report.executed, COUNTS) == (10, 0, {})
    assert report.clean
    assert report.outcome == "completed"
    assert report.value == {"total": 7 * 9 + 45 - 4}
    assert [e.topic for e in report.emitted] == ["replay.out"]


async def test_changed_arguments_diverge_at_the_step_that_changed() -> None:
    """A change to step 4's arguments is reported at step 4 with the argument that differs."""
    trace = await _recorded(bug=False)
    COUNTS.clear()
    report = await replay_trace(build("replayed", step4_factor=3), trace)
    assert report.divergence is not None
    assert report.divergence.step == 4
    assert [(c.path, c.recorded, c.new) for c in report.divergence.changes] == [("$[1]", 7, 21)]
    assert report.divergence.recorded_fingerprint == trace.steps[3].fingerprint
    assert report.next_step is not None
    assert report.next_step.name == "s4"
    assert report.outcome == "stopped"
    assert not report.clean
    assert COUNTS == {}, "no new step runs unless the replay is live"


async def test_failed_step_of_a_dead_lettered_run_is_where_replay_stops() -> None:
    """The buggy run replays to its failed step 10; a live replay of the fix completes it."""
    trace = await _recorded(bug=True)
    assert trace.steps[-1].status == "failed"
    COUNTS.clear()
    stopped = await replay_trace(build("replayed"), trace)
    assert stopped.next_step is not None
    assert (stopped.next_step.step, stopped.next_step.reason) == (10, "recorded_failed")
    assert stopped.clean
    assert COUNTS == {}
    live = await replay_trace(build("replayed"), trace, live=True)
    assert (live.outcome, live.served, live.executed, COUNTS) == ("completed", 9, 1, {"s10": 1})


async def test_live_replay_refuses_tools_unless_allowed() -> None:
    """A tool reached by a live replay is refused and named; the handler's run fails."""
    agent = Agent("tooling", topics=["replay.in"])

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        await ctx.now()
        return await ctx.tool("payments", {"amount": 1})

    gateway = InMemoryGateway(tools={"payments": lambda a: "paid"})
    run = await AgentTestEnvironment(agent, gateway=gateway).run(EVENT)
    short = _trace(agent, run).model_copy(update={"steps": _trace(agent, run).steps[:1]})
    report = await replay_trace(agent, short, live=True)
    assert report.refused == ("tool:payments",)
    assert report.outcome == "dead_lettered"
    assert report.error
    assert "--allow-tools" in report.error
    assert len(gateway.tool_calls) == 1, "only the recorded run called the tool"


def test_argument_changes_name_paths() -> None:
    """Nested objects and arrays are compared element by element."""
    changes = argument_changes([{"a": 1, "b": [1, 2]}, "x"], [{"a": 1, "b": [1, 3], "c": 0}, "x"])
    assert [(c.path, c.recorded, c.new) for c in changes] == [
        ("$[0].b[1]", 2, 3),
        ("$[0].c", None, 0),
    ]


async def test_trace_file_round_trips_and_junk_is_named(tmp_path: Path) -> None:
    """A written trace reads back equal; a bad line is reported with its number."""
    trace = await _recorded(bug=False)
    path = tmp_path / "run.jsonl"
    write_trace(trace, path)
    assert read_trace(path) == trace
    path.write_text(path.read_text() + '{"kind": "step", "index": "x"}\n')
    with pytest.raises(UsageError, match=r"run.jsonl:12: not a trace line"):
        read_trace(path)
    with pytest.raises(UsageError, match="cannot read"):
        read_trace(tmp_path / "missing.jsonl")


def test_module_is_importable() -> None:
    """The agents module used by the e2e tests imports (it is loaded as MODULE:ATTR)."""
    assert replay_agents.build("x").name == "x"


async def test_trace_steps_show_tokens_decisions_and_arguments() -> None:
    """LLM steps carry their tokens, governed calls their decision id, every step its args."""
    agent = Agent("traced", topics=["replay.in"])

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        await ctx.llm("hello")
        return await ctx.decide("moderation", {"text": "hi"})

    gateway = InMemoryGateway(policies={"moderation": lambda q: {"allow": True}})
    run = await AgentTestEnvironment(agent, gateway=gateway).run(EVENT)
    llm, decide = _trace(agent, run).steps
    assert llm.tokens is not None
    assert llm.tokens > 0
    assert decide.decision_id == "test"
    assert decide.args == ["moderation", {"text": "hi"}]
    assert decide.duration_ms is not None
