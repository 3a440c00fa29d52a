"""Resuming a failed or cancelled workflow from a step: pure transitions, tested without Kafka."""

from __future__ import annotations

import pytest
import yaml
from pydantic import JsonValue, ValidationError

from longboat.coordinator import SignalData
from longboat.coordinator._definitions import Definition
from longboat.coordinator._machine import (
    Command,
    DispatchTask,
    HistoryEntry,
    SignalReceived,
    TaskCompleted,
    TaskFailed,
    WorkflowStarted,
    WorkflowState,
)
from longboat.coordinator._protocol import CoordinatorEvent
from longboat.coordinator._resume import AnyEvent, WorkflowResumed, transition

TRIGGER: dict[str, JsonValue] = {"type": "orders.placed", "data": {"amount": 7}}


def _definition(version: int, *, pay_input: str, retries: int = 1) -> Definition:
    body = f"""
name: order
version: {version}
trigger: {{topic: orders, type: orders.placed}}
steps:
  - id: check
    task: {{agent: checker, input: {{amount: "${{event.data.amount}}"}}}}
  - id: both
    parallel:
      - id: left
        task: {{agent: side, input: {{}}}}
      - id: right
        task: {{agent: side, input: {{}}}}
  - id: pay
    task: {{agent: payments, input: {{{pay_input}}}}}
    retry: {{max_attempts: {retries}, backoff_s: 1}}
  - id: notify
    task: {{agent: mailer, input: {{}}}}
"""
    return Definition.model_validate(yaml.safe_load(body))


V1 = _definition(1, pay_input='cents: "${event.data.amount}"')
V2 = _definition(2, pay_input='amount: "${event.data.amount}", currency: EUR', retries=2)


def _run(
    definition: Definition, events: list[AnyEvent], state: WorkflowState | None = None
) -> tuple[WorkflowState | None, list[Command]]:
    commands: list[Command] = []
    for n, event in enumerate(events):
        state, more = transition(definition, state, event, now=1000.0 + n)
        commands += more
    return state, commands


def _dispatches(commands: list[Command]) -> list[DispatchTask]:
    return [c for c in commands if isinstance(c, DispatchTask)]


def _history(commands: list[Command]) -> list[HistoryEntry]:
    return [c for c in commands if isinstance(c, HistoryEntry)]


def _failed_at_pay() -> WorkflowState:
    state, _ = _run(
        V1,
        [
            WorkflowStarted(workflow_id="o-1", trigger=TRIGGER),
            TaskCompleted(task_id="o-1:check:1", output={"ok": True}),
            TaskCompleted(task_id="o-1:left:1", output="l"),
            TaskCompleted(task_id="o-1:right:1", output="r"),
            TaskFailed(task_id="o-1:pay:1", error="KeyError: 'amount'"),
        ],
    )
    assert state is not None
    assert state.status == "failed"
    return state


def test_resume_on_a_new_version_keeps_earlier_steps_and_dispatches_new_task_ids() -> None:
    """A failed workflow resumed at its failed step on v2: earlier outputs kept, attempts go on."""
    failed = _failed_at_pay()
    state, commands = _run(
        V2, [WorkflowResumed(from_step="pay", version=2, by="ops", note="fixed")], failed
    )
    assert state is not None
    assert (state.status, state.version, state.reason, state.resumes) == ("running", 2, None, 1)
    assert state.steps["check"].output == {"ok": True}
    assert state.steps["both"].output == {"left": "l", "right": "r"}
    # Attempt 2: the id ``o-1:pay:2`` is new, so the payments agent runs it (not a duplicate).
    assert _dispatches(commands) == [
        DispatchTask(
            task_id="o-1:pay:2",
            step_id="pay",
            agent="payments",
            input={"amount": 7, "currency": "EUR"},
            attempt=2,
        )
    ]
    resumed = _history(commands)[0]
    assert resumed.type == "WorkflowResumed"
    assert resumed.data == {
        "from_step": "pay",
        "version": 2,
        "previous_version": 1,
        "previous_status": "failed",
        "by": "ops",
        "note": "fixed",
        "kept": ["check", "both", "left", "right"],
    }
    # The old attempt's late result matches nothing; the new one moves on under v2.
    state, commands = _run(V2, [TaskFailed(task_id="o-1:pay:1", error="late")], state)
    assert commands == []
    state, commands = _run(V2, [TaskCompleted(task_id="o-1:pay:2", output="paid")], state)
    assert [d.task_id for d in _dispatches(commands)] == ["o-1:notify:1"]
    state, commands = _run(V2, [TaskCompleted(task_id="o-1:notify:1")], state)
    assert state is not None
    assert state.status == "completed"


def test_retries_after_a_resume_count_from_the_resume() -> None:
    """max_attempts applies anew after a resume; retry attempts keep increasing the task id."""
    failed = _failed_at_pay()
    state, _ = _run(V2, [WorkflowResumed(from_step="pay", version=2, by="ops")], failed)
    state, commands = _run(V2, [TaskFailed(task_id="o-1:pay:2", error="again")], state)
    assert state is not None
    assert state.status == "running"  # v2 allows 2 attempts: a retry is scheduled
    assert state.steps["pay"].status == "failed"
    state, commands = _run(V2, [TaskFailed(task_id="o-1:pay:2", error="again")], state)
    assert commands == []  # a duplicate failure changes nothing


def test_resume_from_an_earlier_step_runs_it_and_later_steps_again_with_new_ids() -> None:
    """Resumed from a parallel step: its branches and later steps start again at attempt 2."""
    failed = _failed_at_pay()
    state, commands = _run(V1, [WorkflowResumed(from_step="both", by="ops")], failed)
    assert state is not None
    assert set(state.steps) == {"check", "both", "left", "right"}
    assert sorted(d.task_id for d in _dispatches(commands)) == ["o-1:left:2", "o-1:right:2"]
    assert state.version == 1  # no --version: the workflow's own
    state, commands = _run(
        V1,
        [
            TaskCompleted(task_id="o-1:left:2", output="l2"),
            TaskCompleted(task_id="o-1:right:2", output="r2"),
        ],
        state,
    )
    assert [d.task_id for d in _dispatches(commands)] == ["o-1:pay:2"]


def test_a_cancelled_workflow_can_be_resumed_twice_and_attempts_keep_going() -> None:
    """Cancel, resume, fail, resume again: every resume's task ids are new."""
    state, _ = _run(
        V1,
        [
            WorkflowStarted(workflow_id="o-2", trigger=TRIGGER),
            SignalReceived(signal="cancel", by="ops"),
            WorkflowResumed(from_step="check", by="ops"),
            TaskFailed(task_id="o-2:check:2", error="boom"),
        ],
    )
    assert state is not None
    assert state.status == "failed"
    state, commands = _run(V1, [WorkflowResumed(from_step="check", by="ops")], state)
    assert state is not None
    assert state.resumes == 2
    assert [d.task_id for d in _dispatches(commands)] == ["o-2:check:3"]


@pytest.mark.parametrize(
    ("event", "definition", "reason"),
    [
        (WorkflowResumed(from_step="nope", by="ops"), V1, "no step nope in order v1"),
        (WorkflowResumed(from_step="left", by="ops"), V1, "branch of parallel step both"),
        (WorkflowResumed(from_step="pay", version=3, by="ops"), V1, "version 3 of order is not"),
        (WorkflowResumed(from_step="notify", by="ops"), V1, "step pay (before notify) is failed"),
    ],
)
def test_bad_resumes_are_refused_in_history_and_change_nothing(
    event: WorkflowResumed, definition: Definition, reason: str
) -> None:
    """An unknown step, a branch, an undeployed version, an unfinished earlier step: refused."""
    failed = _failed_at_pay()
    state, commands = _run(definition, [event], failed)
    assert state == failed
    assert _dispatches(commands) == []
    [refused] = _history(commands)
    assert refused.type == "ResumeRefused"
    assert reason in str(refused.data["reason"])


def test_running_completed_and_unknown_workflows_are_not_resumed() -> None:
    """Only failed or cancelled workflows resume; a workflow this coordinator lacks stays absent."""
    running, _ = _run(V1, [WorkflowStarted(workflow_id="o-3", trigger=TRIGGER)])
    state, commands = _run(V1, [WorkflowResumed(from_step="check", by="ops")], running)
    assert state == running
    assert "only a failed or cancelled workflow" in str(_history(commands)[0].data["reason"])
    assert _run(V1, [WorkflowResumed(from_step="check", by="ops")]) == (None, [])


def test_resume_signal_data_and_coordinator_event_round_trip() -> None:
    """A resume signal needs a step; other signals take none; the event survives its serde."""
    data = SignalData(signal="resume", by="ops", from_step="pay", version=2)
    assert data.version == 2
    with pytest.raises(ValidationError, match="needs from_step"):
        SignalData(signal="resume", by="ops")
    with pytest.raises(ValidationError, match="takes no from_step"):
        SignalData(signal="approve", by="ops", from_step="pay")
    with pytest.raises(ValidationError):
        SignalData(signal="resume", by="ops", from_step="pay", version=0)
    body = CoordinatorEvent(event=WorkflowResumed(from_step="pay", version=2, by="ops"))
    again = CoordinatorEvent.model_validate_json(body.model_dump_json())
    assert again == body


def test_a_late_compensation_result_does_not_fail_the_resumed_workflow() -> None:
    """A redelivered result of the first compensation after the resume: the workflow runs on."""
    body = V1.model_dump(mode="json", by_alias=True, exclude_none=True)
    body["steps"][0]["compensate"] = {"agent": "undo", "input": {}}
    definition = Definition.model_validate(body)
    state, commands = _run(
        definition,
        [
            WorkflowStarted(workflow_id="o-4", trigger=TRIGGER),
            TaskFailed(task_id="o-4:check:1", error="boom"),
        ],
    )
    assert [d.task_id for d in _dispatches(commands)][-1] == "o-4:check:compensate"
    state, _ = _run(definition, [TaskCompleted(task_id="o-4:check:compensate")], state)
    assert state is not None
    assert state.status == "failed"
    state, _ = _run(definition, [WorkflowResumed(from_step="check", by="ops")], state)
    state, commands = _run(definition, [TaskCompleted(task_id="o-4:check:compensate")], state)
    assert state is not None
    assert (state.status, commands) == ("running", [])
