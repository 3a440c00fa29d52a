"""The task contract between the coordinator and its specialists, owned by the agents layer.

The coordinator writes a :class:`Task` to ``lb.tasks.<agent>``; the agent runtime answers on
``lb.results`` with a :class:`TaskResult` (the handler returned) or a :class:`TaskFailure`
(the task was dead-lettered). The models, their CloudEvents types and their one serde live here
so that writer and reader cannot drift apart: the coordinator imports them from
``longboat.agents``, a specialist reads its task with ``ctx.task``.
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict, JsonValue, ValidationError

from longboat import Envelope, describe_errors
from longboat.errors import EventError

__all__ = [
    "TASK_COMPLETED_TYPE",
    "TASK_FAILED_TYPE",
    "TASK_TYPE",
    "Task",
    "TaskFailure",
    "TaskOutcome",
    "TaskResult",
    "task_event",
    "task_of",
    "task_outcome_event",
    "task_outcome_of",
]

TASK_TYPE: Final = "longboat.task"
TASK_COMPLETED_TYPE: Final = "longboat.task.completed"
TASK_FAILED_TYPE: Final = "longboat.task.failed"
_COORDINATOR_SOURCE = "longboat/coordinator"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Task(_Model):
    """A unit of work on ``lb.tasks.<agent>`` (the envelope's id is the task id).

    Attributes:
        task_id: Deterministic id of this step attempt; the result names it.
        workflow: The workflow definition's name.
        step: The step id in that definition.
        attempt: 1 for the first attempt, then 2, 3, ... after failures.
        input: The step's ``input:`` mapping, rendered against the workflow.
    """

    task_id: str
    workflow: str
    step: str
    attempt: int
    input: JsonValue = None


class TaskResult(_Model):
    """A specialist finished a task: ``output`` is what its handler returned."""

    task_id: str
    agent: str
    output: JsonValue = None


class TaskFailure(_Model):
    """A specialist gave up on a task (dead-lettered it); the error says why."""

    task_id: str
    agent: str
    error_type: str
    error_code: str
    message: str
    attempts: int


TaskOutcome = TaskResult | TaskFailure


def task_event(workflow_id: str, task: Task) -> Envelope:
    """The envelope of ``task`` for ``lb.tasks.<agent>`` (its id is the task id)."""
    return Envelope(
        id=task.task_id,
        type=TASK_TYPE,
        source=_COORDINATOR_SOURCE,
        subject=task.step,
        workflowid=workflow_id,
        data=task.model_dump(mode="json"),
    )


def task_of(event: Envelope) -> Task | None:
    """The task ``event`` carries, or None when it is not a task.

    Raises:
        EventError: The event says it is a task but its data is not one.
    """
    if event.type != TASK_TYPE:
        return None
    try:
        return Task.model_validate(event.data)
    except ValidationError as e:
        raise EventError(f"task {event.id}: data is not a task: {describe_errors(e)}") from e


def task_outcome_event(task: Envelope, outcome: TaskOutcome) -> Envelope:
    """The envelope a specialist writes to ``lb.results`` for the task envelope ``task``."""
    kind = TASK_COMPLETED_TYPE if isinstance(outcome, TaskResult) else TASK_FAILED_TYPE
    return task.caused(
        type=kind, source=f"longboat/agent/{outcome.agent}", data=outcome.model_dump(mode="json")
    )


def task_outcome_of(event: Envelope) -> TaskOutcome | None:
    """The task result or failure ``event`` carries, or None when it is neither.

    Raises:
        EventError: The type says result or failure but the data does not match.
    """
    model: type[TaskResult] | type[TaskFailure]
    if event.type == TASK_COMPLETED_TYPE:
        model = TaskResult
    elif event.type == TASK_FAILED_TYPE:
        model = TaskFailure
    else:
        return None
    try:
        return model.model_validate(event.data)
    except ValidationError as e:
        raise EventError(f"{event.type} {event.id}: {describe_errors(e)}") from e
