"""The task contract: one model and one serde for tasks, results and failures, both ways."""

from __future__ import annotations

import pytest

from longboat import Envelope
from longboat.agents import (
    TASK_COMPLETED_TYPE,
    TASK_FAILED_TYPE,
    TASK_TYPE,
    Task,
    TaskFailure,
    TaskResult,
    task_event,
    task_of,
    task_outcome_event,
    task_outcome_of,
)
from longboat.errors import EventError

TASK = Task(task_id="c-1:triage:1", workflow="claim-intake", step="triage", attempt=1, input={})


def test_task_round_trips_through_its_envelope() -> None:
    """task_event writes what task_of reads; the envelope id is the task id."""
    envelope = task_event("c-1", TASK)
    assert (envelope.id, envelope.type, envelope.workflowid) == ("c-1:triage:1", TASK_TYPE, "c-1")
    assert task_of(envelope) == TASK


def test_non_task_is_none_and_a_broken_task_is_a_clear_error() -> None:
    """Another event type is not a task; a task type with wrong data names the field."""
    assert task_of(Envelope(type="claims.submitted", source="/x", data={"a": 1})) is None
    broken = Envelope(type=TASK_TYPE, source="/x", data={"task_id": "t"})
    with pytest.raises(EventError, match="workflow"):
        task_of(broken)


def test_results_and_failures_round_trip_and_keep_the_workflow() -> None:
    """A result or failure is caused by its task: same workflow, causation = task id."""
    envelope = task_event("c-1", TASK)
    done = TaskResult(task_id=TASK.task_id, agent="triage", output={"label": "simple"})
    written = task_outcome_event(envelope, done)
    assert (written.type, written.workflowid, written.causationid) == (
        TASK_COMPLETED_TYPE,
        "c-1",
        TASK.task_id,
    )
    assert task_outcome_of(written) == done
    failed = TaskFailure(
        task_id=TASK.task_id,
        agent="triage",
        error_type="ValueError",
        error_code="terminal",
        message="bad",
        attempts=1,
    )
    assert task_outcome_of(task_outcome_event(envelope, failed)) == failed
    assert task_outcome_event(envelope, failed).type == TASK_FAILED_TYPE
    assert task_outcome_of(envelope) is None
    with pytest.raises(EventError, match=r"task_id"):
        task_outcome_of(Envelope(type=TASK_COMPLETED_TYPE, source="/x", data={"nope": 1}))
