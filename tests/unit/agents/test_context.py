"""Step semantics of ctx without Kafka: record, replay, in-doubt, divergence, retries."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import JsonValue

from longboat import Envelope
from longboat.agents import (
    NOT_FOUND,
    Agent,
    Context,
    LLMRequest,
    LLMResponse,
    LocalProvider,
    RetryPolicy,
    StepFailed,
)
from longboat.agents.testing import AgentTestEnvironment
from longboat.errors import EventTooLarge, RetryableError, UsageError

FAST = RetryPolicy(max_attempts=3, initial_backoff_s=0, max_backoff_s=0, jitter=0)
EVENT = Envelope(type="t", source="s", data={})
Body = Any  # a handler body: async (ctx) -> JSON


def agent_of(body: Body, *, durability: str = "sync") -> Agent:
    """An agent on topic ``in`` whose handler is ``body(ctx)``."""
    agent = Agent("triage", topics=["in"], durability=durability, retry=FAST)

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        result: JsonValue = await body(ctx)
        return result

    return agent


class CountingLLM(LocalProvider):
    """The local provider, counting calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def complete(self, request: LLMRequest) -> LLMResponse:
        self.calls += 1
        return await super().complete(request)


async def test_step_runs_once_and_journals_started_then_completed() -> None:
    """A live step runs its function and journals started then completed with the JSON result."""
    calls: list[int] = []

    def charge(amount: int) -> dict[str, Any]:
        calls.append(amount)
        return {"charged": amount, "ids": (1, 2)}

    run = await AgentTestEnvironment(agent_of(lambda ctx: ctx.step("charge", charge, 120))).run(
        EVENT
    )
    assert run.value == {"charged": 120, "ids": [1, 2]}  # JSON-shaped, as a replay returns it
    assert calls == [120]
    assert [r.state for r in run.journal] == ["started", "completed"]
    assert run.step("charge").result == run.value
    assert run.step("charge").args == [120]


async def test_replay_returns_recorded_result_without_running() -> None:
    """With the step completed in the journal, the function is not called again."""
    calls: list[int] = []

    def charge(a: int) -> dict[str, int]:
        calls.append(a)
        return {"id": len(calls)}

    env = AgentTestEnvironment(agent_of(lambda ctx: ctx.step("charge", charge, 1)))
    first = await env.run(EVENT)
    again = await env.replay(first)
    assert again.value == first.value == {"id": 1}
    assert calls == [1]
    assert again.replayed_steps == 1


async def test_in_doubt_step_is_reconciled_or_rerun_with_the_same_key() -> None:
    """In doubt: reconcile's answer is used; NOT_FOUND re-runs with the same key."""
    asked: list[str] = []
    keys: list[str] = []
    answer: dict[str, Any] = {"found": "from-provider"}

    async def reconcile(key: str) -> Any:
        asked.append(key)
        return answer["found"]

    async def body(ctx: Context) -> JsonValue:
        def pay() -> str:
            keys.append(ctx.idempotency_key)
            return "ran"

        result: JsonValue = await ctx.step("pay", pay, reconcile=reconcile)
        return result

    env = AgentTestEnvironment(agent_of(body))
    crashed = await env.run(EVENT, crash_in_step=1)
    assert crashed.crashed
    assert [r.state for r in crashed.journal] == ["started"]
    fp = crashed.steps[0].fingerprint
    assert (await env.replay(crashed)).value == "from-provider"
    assert asked == [fp]
    answer["found"] = NOT_FOUND
    assert (await env.replay(crashed)).value == "ran"
    assert keys == [fp, fp]  # the crashed attempt and the re-run share the key


async def test_divergence_runs_everything_from_the_changed_step() -> None:
    """If code changed, the first different step and every later one run anew."""
    calls: list[str] = []
    first_name = ["a"]

    def track(name: str, value: int) -> int:
        calls.append(name)
        return value

    async def body(ctx: Context) -> JsonValue:
        await ctx.step(first_name[0], track, first_name[0], 1)
        result: JsonValue = await ctx.step("b", track, "b", 2)
        return result

    env = AgentTestEnvironment(agent_of(body))
    first = await env.run(EVENT)
    first_name[0] = "a2"
    calls.clear()
    changed = await env.replay(first)
    assert calls == ["a2", "b"]
    assert changed.replayed_steps == 0


async def test_retryable_errors_are_retried_and_terminal_ones_are_not() -> None:
    """Retryable failures retry up to max_attempts; others fail at once with StepFailed."""
    attempts: list[int] = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise RetryableError("try again")
        return "ok"

    assert (await AgentTestEnvironment(agent_of(lambda c: c.step("f", flaky))).run(EVENT)).value
    assert len(attempts) == 3

    def broken() -> str:
        raise ValueError("bad input")

    failed = await AgentTestEnvironment(agent_of(lambda c: c.step("broken", broken))).run(EVENT)
    assert isinstance(failed.error, StepFailed)
    assert failed.error.attempts == 1
    assert failed.dead_letter is not None
    assert "after 1 attempt" in failed.dead_letter.message

    def down() -> str:
        raise ConnectionError("down")

    exhausted = await AgentTestEnvironment(agent_of(lambda c: c.step("down", down))).run(EVENT)
    assert isinstance(exhausted.error, StepFailed)
    assert exhausted.error.attempts == 3
    assert exhausted.journal[-1].state == "failed"
    assert exhausted.step("down").status == "failed"


async def test_concurrent_steps_in_one_run_are_refused() -> None:
    """Two steps of one run at once would make fingerprints depend on timing."""

    async def slow() -> int:
        await asyncio.sleep(0.05)
        return 1

    async def both(ctx: Context) -> JsonValue:
        async with asyncio.TaskGroup() as group:
            group.create_task(ctx.step("one", slow))
            group.create_task(ctx.step("two", slow))
        return None

    run = await AgentTestEnvironment(agent_of(both)).run(EVENT)
    assert isinstance(run.error, ExceptionGroup)
    assert run.error.subgroup(lambda e: isinstance(e, UsageError) and "one at a time" in str(e))


async def test_exit_mode_journals_nothing() -> None:
    """durability=exit writes no journal records."""

    async def body(ctx: Context) -> JsonValue:
        await ctx.step("a", lambda: 1)
        return await ctx.uuid()

    run = await AgentTestEnvironment(agent_of(body, durability="exit")).run(EVENT)
    assert run.journal == ()
    assert [s.status for s in run.steps] == ["completed", "completed"]


async def test_now_uuid_random_and_llm_are_recorded_and_replayed() -> None:
    """Deterministic helpers return the recorded values on replay; the LLM is not called again."""
    llm = CountingLLM()

    async def body(ctx: Context) -> JsonValue:
        now, uid, rnd, said = (
            await ctx.now(),
            await ctx.uuid(),
            await ctx.random(),
            await ctx.llm("hi"),
        )
        assert now.tzinfo is not None
        return [now.isoformat(), uid, rnd, said.text]

    env = AgentTestEnvironment(agent_of(body), llm=llm)
    first = await env.run(EVENT)
    second = await env.replay(first)
    assert second.value == first.value
    assert llm.calls == 1
    assert second.replayed_steps == 4


async def test_idempotency_key_only_inside_a_step_and_emit_checks_size() -> None:
    """idempotency_key outside a step is an error; an oversize emit fails inside the handler."""

    async def body(ctx: Context) -> JsonValue:
        with pytest.raises(UsageError, match="inside a running step"):
            _ = ctx.idempotency_key
        ctx.emit("out", Envelope(type="t", source="s", data="small"))
        with pytest.raises(EventTooLarge):
            ctx.emit("out", Envelope(type="t", source="s", data="x" * 1_100_000))
        return None

    run = await AgentTestEnvironment(agent_of(body)).run(EVENT, key="k")
    assert run.error is None
    assert [e.data for e in run.emitted["out"]] == ["small"]
