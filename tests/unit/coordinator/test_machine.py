"""The workflow state machine: pure transitions, tested without Kafka."""

from __future__ import annotations

from pathlib import Path

from pydantic import JsonValue

from longboat.coordinator._definitions import Definition, load_definition
from longboat.coordinator._machine import (
    Command,
    DispatchTask,
    Event,
    HistoryEntry,
    ScheduleTimer,
    SignalReceived,
    TaskCompleted,
    TaskFailed,
    TimerFired,
    WorkflowStarted,
    WorkflowState,
    apply,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "examples/claims/workflows/claim-intake.yaml"
TRIGGER: dict[str, JsonValue] = {
    "type": "claims.submitted",
    "data": {"claim_id": "c-7", "amount": 1500, "policy": "P-1"},
}


def _definition() -> Definition:
    return load_definition(EXAMPLE)


def _run(
    definition: Definition, events: list[Event], state: WorkflowState | None = None
) -> tuple[WorkflowState | None, list[Command]]:
    commands: list[Command] = []
    for n, event in enumerate(events):
        state, more = apply(definition, state, event, now=1000.0 + n)
        commands += more
    return state, commands


def _dispatches(commands: list[Command]) -> list[str]:
    return [c.task_id for c in commands if isinstance(c, DispatchTask)]


def _history(commands: list[Command]) -> list[str]:
    return [c.type for c in commands if isinstance(c, HistoryEntry)]


def test_happy_path_with_approval_parallel_join_timer_and_payment() -> None:
    """Start → triage → approval → parallel checks (join) → timer → pay → completed."""
    d = _definition()
    state, commands = _run(d, [WorkflowStarted(workflow_id="c-7", trigger=TRIGGER)])
    assert state is not None
    assert _dispatches(commands) == ["c-7:triage:1"]
    assert commands[1] == DispatchTask(
        task_id="c-7:triage:1",
        step_id="triage",
        agent="triage",
        input={"claim": TRIGGER["data"]},
        attempt=1,
    )
    state, commands = _run(
        d, [TaskCompleted(task_id="c-7:triage:1", output={"label": "complex"})], state
    )
    assert state is not None
    assert state.status == "waiting_approval"
    assert "ApprovalRequested" in _history(commands)
    assert any(isinstance(c, ScheduleTimer) and c.purpose == "approval_timeout" for c in commands)
    state, commands = _run(d, [SignalReceived(signal="approve", by="alice", note="ok")], state)
    assert state is not None
    assert state.steps["review"].decided_by == "alice"
    assert sorted(_dispatches(commands)) == ["c-7:coverage:1", "c-7:fraud:1"]
    state, commands = _run(d, [TaskCompleted(task_id="c-7:fraud:1", output="clean")], state)
    assert _dispatches(commands) == []  # the join waits for coverage
    state, commands = _run(d, [TaskCompleted(task_id="c-7:coverage:1", output="covered")], state)
    assert state is not None
    assert state.steps["checks"].output == {"fraud": "clean", "coverage": "covered"}
    timer = next(c for c in commands if isinstance(c, ScheduleTimer))
    assert timer.purpose == "timer"
    state, commands = _run(
        d, [TimerFired(step_id="cool-off", purpose="timer", token=timer.token)], state
    )
    assert _dispatches(commands) == ["c-7:pay:1"]
    state, commands = _run(d, [TaskCompleted(task_id="c-7:pay:1", output={"paid": True})], state)
    assert state is not None
    assert state.status == "completed"
    assert _history(commands)[-1] == "WorkflowCompleted"


def test_simple_claim_skips_the_approval() -> None:
    """A false `when` skips the step and goes on."""
    d = _definition()
    state, commands = _run(
        d,
        [
            WorkflowStarted(workflow_id="c-8", trigger=TRIGGER),
            TaskCompleted(task_id="c-8:triage:1", output={"label": "simple"}),
        ],
    )
    assert state is not None
    assert state.steps["review"].status == "skipped"
    assert "StepSkipped" in _history(commands)
    assert set(_dispatches(commands)) == {"c-8:triage:1", "c-8:fraud:1", "c-8:coverage:1"}


def test_duplicates_and_late_events_change_nothing() -> None:
    """A redelivered trigger, result or signal produces no command: handoffs happen once."""
    d = _definition()
    started = WorkflowStarted(workflow_id="c-9", trigger=TRIGGER)
    state, _ = _run(d, [started])
    again, commands = apply(d, state, started, now=2000.0)
    assert (again, commands) == (state, [])
    done = TaskCompleted(task_id="c-9:triage:1", output={"label": "complex"})
    state, _ = _run(d, [done], state)
    assert apply(d, state, done, now=2001.0) == (state, [])
    assert apply(d, state, TaskCompleted(task_id="c-9:nope:1"), now=2002.0) == (state, [])
    approve = SignalReceived(signal="approve", by="bob")
    state, first = _run(d, [approve], state)
    assert _dispatches(first)
    assert apply(d, state, approve, now=2003.0) == (state, [])


def test_rejection_ends_the_workflow_and_timeout_escalates_once() -> None:
    """Reject → rejected; an approval timeout escalates (once) and keeps waiting."""
    d = _definition()
    state, _ = _run(
        d,
        [
            WorkflowStarted(workflow_id="c-1", trigger=TRIGGER),
            TaskCompleted(task_id="c-1:triage:1", output={"label": "complex"}),
        ],
    )
    timeout = TimerFired(step_id="review", purpose="approval_timeout", token="review:approval")
    escalated, commands = _run(d, [timeout], state)
    assert escalated is not None
    assert escalated.steps["review"].escalated_to == "claims-leads"
    assert escalated.status == "waiting_approval"
    assert "ApprovalEscalated" in _history(commands)
    assert apply(d, escalated, timeout, now=3000.0) == (escalated, [])
    rejected, commands = _run(
        d, [SignalReceived(signal="reject", by="carol", note="fraud")], escalated
    )
    assert rejected is not None
    assert rejected.status == "rejected"
    assert _history(commands)[-1] == "WorkflowRejected"
    assert apply(d, rejected, SignalReceived(signal="approve", by="x"), now=3001.0) == (
        rejected,
        [],
    )


def test_failed_task_retries_then_compensates_then_fails() -> None:
    """Retries with backoff up to max_attempts; the last failure of `pay` runs its compensation."""
    d = _definition()
    state, commands = _run(
        d,
        [
            WorkflowStarted(workflow_id="c-2", trigger=TRIGGER),
            TaskFailed(task_id="c-2:triage:1", error="boom"),
        ],
    )
    retry = next(c for c in commands if isinstance(c, ScheduleTimer))
    assert (retry.purpose, retry.due) == ("retry", 1001.0 + 2)
    state, commands = _run(
        d, [TimerFired(step_id="triage", purpose="retry", token=retry.token)], state
    )
    assert _dispatches(commands) == ["c-2:triage:2"]
    state, commands = _run(
        d, [TaskCompleted(task_id="c-2:triage:1", output={"label": "simple"})], state
    )
    assert commands == []  # the superseded attempt's late result is ignored
    state, _ = _run(
        d,
        [
            TaskCompleted(task_id="c-2:triage:2", output={"label": "simple"}),
            TaskCompleted(task_id="c-2:fraud:1"),
            TaskCompleted(task_id="c-2:coverage:1"),
            TimerFired(step_id="cool-off", purpose="timer", token="cool-off:timer"),
        ],
        state,
    )
    state, commands = _run(d, [TaskFailed(task_id="c-2:pay:1", error="card declined")], state)
    assert state is not None
    assert state.status == "running"
    assert _dispatches(commands) == ["c-2:pay:compensate"]
    state, commands = _run(d, [TaskCompleted(task_id="c-2:pay:compensate")], state)
    assert state is not None
    assert state.status == "failed"
    assert "card declined" in (state.reason or "")


def test_cancel_and_bad_expressions() -> None:
    """Cancel ends a running workflow; a failing condition fails it with the reason."""
    d = _definition()
    state, _ = _run(d, [WorkflowStarted(workflow_id="c-3", trigger=TRIGGER)])
    cancelled, commands = _run(d, [SignalReceived(signal="cancel", by="ops")], state)
    assert cancelled is not None
    assert cancelled.status == "cancelled"
    assert _history(commands) == ["SignalReceived", "WorkflowCancelled"]
    broken, commands = _run(d, [WorkflowStarted(workflow_id="c-4", trigger={"data": {}})])
    assert broken is not None
    assert broken.status == "running"  # triage input is ${event.data}: fine
    broken, commands = _run(d, [TaskCompleted(task_id="c-4:triage:1", output={})], broken)
    assert broken is not None
    assert broken.status == "failed"
    assert "condition failed" in (broken.reason or "")
