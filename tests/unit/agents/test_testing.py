"""The agent authors' test seam: tasks, crash-and-replay, the in-memory gateway, determinism."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import JsonValue

from longboat import Envelope
from longboat.agents import Agent, Context, Task, TaskFailure, TaskResult
from longboat.agents.testing import AgentTestEnvironment, InMemoryGateway

TASK = Task(task_id="c-1:pay:1", workflow="claim-intake", step="pay", attempt=1, input={"n": 2})


def payments(side_effects: list[str]) -> Agent:
    """Three steps; the middle one is the side effect a crash must not repeat."""
    agent = Agent("payments")

    def effect(name: str) -> str:
        side_effects.append(name)
        return f"{name}: done"

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        task = ctx.task
        assert task is not None
        for name in ("prepare", "charge", "receipt"):
            await ctx.step(name, effect, name)
        return {"step": task.step, "input": task.input}

    return agent


async def test_a_task_yields_its_result_for_the_coordinator() -> None:
    """A Task input reaches ctx.task; the return value becomes the TaskResult on lb.results."""
    run = await AgentTestEnvironment(payments([])).run(TASK, workflow_id="c-1")
    assert run.task_result == TaskResult(
        task_id="c-1:pay:1", agent="payments", output={"step": "pay", "input": {"n": 2}}
    )
    assert run.event.workflowid == "c-1"
    assert [s.name for s in run.steps] == ["prepare", "charge", "receipt"]


async def test_crash_after_a_step_and_replay_never_repeats_completed_steps() -> None:
    """Crash after step 2: nothing is committed; the replay re-runs only step 3."""
    effects: list[str] = []
    env = AgentTestEnvironment(payments(effects))
    crashed = await env.run(TASK, crash_after_step=2)
    assert crashed.crashed
    assert crashed.task_result is None
    assert effects == ["prepare", "charge"]
    replayed = await env.replay(crashed)
    assert effects == ["prepare", "charge", "receipt"]  # charge ran once
    assert [s.status for s in replayed.steps] == ["replayed", "replayed", "completed"]
    assert isinstance(replayed.task_result, TaskResult)


async def test_a_failing_task_is_dead_lettered_with_a_task_failure() -> None:
    """A handler error: the run records it, dead-letters the task and reports the failure."""
    agent = Agent("broken")

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        raise ValueError("no such policy")

    run = await AgentTestEnvironment(agent).run(TASK)
    assert isinstance(run.error, ValueError)
    assert run.dead_letter is not None
    assert run.dead_letter.error_type == "ValueError"
    assert isinstance(run.task_result, TaskFailure)
    assert "no such policy" in run.task_result.message


def governed(calls: list[JsonValue]) -> tuple[Agent, InMemoryGateway]:
    """An agent that remembers a claim and pays it through a tool."""
    agent = Agent("claims", topics=["claims.submitted"])

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        await ctx.memory.put("claims", "c-1", {"amount": 10})
        paid = await ctx.tool("payments", {"claim": "c-1"})
        return {"remembered": await ctx.memory.get("claims", "c-1"), "paid": paid}

    def pay(arguments: JsonValue) -> JsonValue:
        calls.append(arguments)
        return {"ok": True}

    return agent, InMemoryGateway(tools={"payments": pay})


async def test_in_memory_gateway_serves_memory_and_tools_once_per_key() -> None:
    """Memory round-trips; a tool in doubt after a crash is answered from the ledger."""
    calls: list[JsonValue] = []
    agent, gateway = governed(calls)
    env = AgentTestEnvironment(agent, gateway=gateway)
    event = Envelope(type="claims.submitted", source="/t", data={})
    crashed = await env.run(event, crash_in_step=2)  # inside the tool step: ran, not journalled
    assert crashed.steps[1].status == "started"
    run = await env.replay(crashed)
    assert run.value == {"remembered": {"amount": 10}, "paid": {"ok": True}}
    assert calls == [{"claim": "c-1"}]  # the re-run reused the idempotency key
    assert gateway.memory == {"claims": {"c-1": {"amount": 10}}}


async def test_deny_rules_raise_policy_denied_like_the_gateway() -> None:
    """A deny rule refuses the access: the run fails with PolicyDenied and is dead-lettered."""
    agent, _ = governed([])
    gateway = InMemoryGateway(deny=["tool:payments"])
    run = await AgentTestEnvironment(agent, gateway=gateway).run(
        Envelope(type="claims.submitted", source="/t", data={})
    )
    assert run.dead_letter is not None
    assert run.dead_letter.error_code == "step_failed"
    assert "PolicyDenied: policy denied: test rule denies tool" in run.dead_letter.message


async def test_now_and_uuid_are_deterministic() -> None:
    """ctx.now() starts at `start` and ticks; ctx.uuid() counts: two environments agree."""
    agent = Agent("clock", topics=["in"])

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        return [(await ctx.now()).isoformat(), await ctx.uuid(), (await ctx.now()).isoformat()]

    start = datetime(2030, 5, 1, tzinfo=UTC)
    event = Envelope(type="t", source="s")
    first = await AgentTestEnvironment(agent, start=start).run(event)
    second = await AgentTestEnvironment(agent, start=start).run(event)
    assert first.value == second.value
    assert first.value == [
        "2030-05-01T00:00:00+00:00",
        "00000000-0000-0000-0000-000000000001",
        "2030-05-01T00:00:01+00:00",
    ]


async def test_decide_is_a_recorded_step_a_replay_does_not_ask_again() -> None:
    """ctx.decide asks the stand-in's policy once; a replay returns the recorded verdict."""
    agent = Agent("moderator", topics=["content.posted"])

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        verdict = await ctx.decide("moderation", {"text": "hello"})
        await ctx.now()
        return verdict

    gateway = InMemoryGateway(policies={"moderation": lambda q: {"verdict": "allow"}})
    env = AgentTestEnvironment(agent, gateway=gateway)
    crashed = await env.run(Envelope(type="t", source="/t", data={}), crash_after_step=1)
    gateway.policies["moderation"] = lambda q: {"verdict": "block"}  # the policy changed
    run = await env.replay(crashed)
    assert run.value == {"verdict": "allow"}  # the verdict the run acted on
    assert run.step("longboat.decide").status == "replayed"
    assert gateway.questions == [("moderation", {"text": "hello"})]
    denied = await AgentTestEnvironment(
        agent, gateway=InMemoryGateway(deny=["policy:moderation"])
    ).run(Envelope(type="t", source="/t", data={}))
    assert denied.dead_letter is not None
