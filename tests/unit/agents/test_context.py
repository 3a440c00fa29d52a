"""Step semantics of ctx without Kafka: record, replay, in-doubt, divergence, retries."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from longboat import Envelope, EnvelopeSerde
from longboat.agents import NOT_FOUND, Context, RetryPolicy, StepFailed
from longboat.agents._context import RunScope
from longboat.agents._faults import FaultPlan
from longboat.agents._journal import JournalRecord, RunHistory
from longboat.agents._llm import LLMRequest, LLMResponse, LocalProvider
from longboat.agents._metrics import AgentMetrics
from longboat.agents._options import Durability
from longboat.errors import EventTooLarge, RetryableError, UsageError
from longboat.kafka import ConsumedRecord, RecordMetadata

FAST = RetryPolicy(max_attempts=3, initial_backoff_s=0, max_backoff_s=0, jitter=0)


class MemoryJournal:
    """Our own journal-writer interface, kept in a list (no Kafka involved)."""

    def __init__(self) -> None:
        self.records: list[JournalRecord] = []

    async def __call__(self, record: JournalRecord) -> asyncio.Future[RecordMetadata]:
        self.records.append(record)
        done: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
        done.set_result(RecordMetadata("j", 0, len(self.records) - 1))
        return done

    def history(self) -> RunHistory:
        history = RunHistory()
        for n, record in enumerate(self.records):
            history.add(record, n)
        return history


class CountingLLM(LocalProvider):
    """The local provider, counting calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def complete(self, request: LLMRequest) -> LLMResponse:
        self.calls += 1
        return await super().complete(request)


def make_ctx(
    journal: MemoryJournal,
    history: RunHistory | None = None,
    *,
    durability: Durability = Durability.SYNC,
    llm: LocalProvider | None = None,
) -> Context:
    record = ConsumedRecord("in", 0, 7, b"k", b"{}", (), 0)
    scope = RunScope(
        "triage", "run-1", record, Envelope(type="t", source="s"), history or RunHistory()
    )
    return Context(
        scope,
        durability=durability,
        write_journal=journal,
        retry=FAST,
        llm=llm or LocalProvider(),
        llm_model="m",
        serde=EnvelopeSerde(max_event_bytes=2048),
        faults=FaultPlan(),
        metrics=AgentMetrics(),
    )


async def test_step_runs_once_and_journals_started_then_completed() -> None:
    """A live step runs its function and journals started then completed with the JSON result."""
    journal, calls = MemoryJournal(), []

    def charge(amount: int) -> dict[str, Any]:
        calls.append(amount)
        return {"charged": amount, "ids": (1, 2)}

    result = await make_ctx(journal).step("charge", charge, 120)
    assert result == {"charged": 120, "ids": [1, 2]}  # JSON-shaped, exactly as a replay returns it
    assert calls == [120]
    assert [r.state for r in journal.records] == ["started", "completed"]
    assert journal.records[1].result == result


async def test_replay_returns_recorded_result_without_running() -> None:
    """With the step completed in the journal, the function is not called again."""
    journal = MemoryJournal()
    first = await make_ctx(journal).step("charge", lambda a: {"id": "first"}, 1)
    replay_calls: list[int] = []

    def again(a: int) -> dict[str, str]:
        replay_calls.append(a)
        return {"id": "second"}

    ctx = make_ctx(MemoryJournal(), journal.history())
    assert await ctx.step("charge", again, 1) == first
    assert replay_calls == []
    assert ctx.replayed_steps == 1


async def test_in_doubt_step_is_reconciled_or_rerun_with_the_same_key() -> None:
    """In doubt: reconcile's answer is used; NOT_FOUND re-runs with the same key."""
    # Find the step's real fingerprint by running it once against an empty journal.
    probe = MemoryJournal()
    await make_ctx(probe).step("pay", lambda: "x")
    fp = probe.records[0].fp
    in_doubt = RunHistory()
    in_doubt.add(probe.records[0], 0)  # "started" only

    asked: list[str] = []

    async def found(key: str) -> Any:
        asked.append(key)
        return "from-provider"

    ctx = make_ctx(MemoryJournal(), in_doubt)
    assert await ctx.step("pay", lambda: "ran", reconcile=found) == "from-provider"
    assert asked == [fp]

    keys: list[str] = []
    ctx2 = make_ctx(MemoryJournal(), in_doubt)

    async def missing(key: str) -> Any:
        return NOT_FOUND

    def pay() -> str:
        keys.append(ctx2.idempotency_key)
        return "ran"

    assert await ctx2.step("pay", pay, reconcile=missing) == "ran"
    assert keys == [fp]


async def test_divergence_runs_everything_from_the_changed_step() -> None:
    """If code changed, the first different step and every later one run anew."""
    journal = MemoryJournal()
    ctx = make_ctx(journal)
    await ctx.step("a", lambda: 1)
    await ctx.step("b", lambda: 2)
    calls: list[str] = []

    def track(name: str, value: int) -> int:
        calls.append(name)
        return value

    changed = make_ctx(MemoryJournal(), journal.history())
    assert await changed.step("a2", track, "a2", 10) == 10
    assert await changed.step("b", track, "b", 20) == 20
    assert calls == ["a2", "b"]


async def test_retryable_errors_are_retried_and_terminal_ones_are_not() -> None:
    """Retryable failures retry up to max_attempts; others fail at once with StepFailed."""
    attempts: list[int] = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise RetryableError("try again")
        return "ok"

    assert await make_ctx(MemoryJournal()).step("flaky", flaky) == "ok"
    assert len(attempts) == 3

    def broken() -> str:
        raise ValueError("bad input")

    with pytest.raises(StepFailed, match="after 1 attempt") as info:
        await make_ctx(MemoryJournal()).step("broken", broken)
    assert info.value.attempts == 1

    def down() -> str:
        raise ConnectionError("down")

    journal = MemoryJournal()
    with pytest.raises(StepFailed) as exhausted:
        await make_ctx(journal).step("down", down)
    assert exhausted.value.attempts == 3
    assert journal.records[-1].state == "failed"


async def test_concurrent_steps_in_one_run_are_refused() -> None:
    """Two steps of one run at once would make fingerprints depend on timing."""
    ctx = make_ctx(MemoryJournal())

    async def slow() -> int:
        await asyncio.sleep(0.05)
        return 1

    async def both() -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(ctx.step("one", slow))
            group.create_task(ctx.step("two", slow))

    with pytest.raises(ExceptionGroup) as info:
        await both()
    assert info.group_contains(UsageError, match="one at a time")


async def test_exit_mode_journals_nothing() -> None:
    """durability=exit writes no journal records."""
    journal = MemoryJournal()
    ctx = make_ctx(journal, durability=Durability.EXIT)
    await ctx.step("a", lambda: 1)
    await ctx.uuid()
    assert journal.records == []


async def test_now_uuid_random_and_llm_are_recorded_and_replayed() -> None:
    """Deterministic helpers return the recorded values on replay; the LLM is not called again."""
    journal, llm = MemoryJournal(), CountingLLM()
    ctx = make_ctx(journal, llm=llm)
    first = (await ctx.now(), await ctx.uuid(), await ctx.random(), await ctx.llm("hello"))
    assert first[0].tzinfo is not None
    replay = make_ctx(MemoryJournal(), journal.history(), llm=llm)
    second = (
        await replay.now(),
        await replay.uuid(),
        await replay.random(),
        await replay.llm("hello"),
    )
    assert second == first
    assert llm.calls == 1


async def test_idempotency_key_only_inside_a_step_and_emit_checks_size() -> None:
    """idempotency_key outside a step is an error; an oversize emit fails inside the handler."""
    ctx = make_ctx(MemoryJournal())
    with pytest.raises(UsageError, match="inside a running step"):
        _ = ctx.idempotency_key
    ctx.emit("out", Envelope(type="t", source="s", data="small"))
    assert ctx.outputs[0].key == b"k"  # defaults to the input record's key
    with pytest.raises(EventTooLarge):
        ctx.emit("out", Envelope(type="t", source="s", data="x" * 5000))
