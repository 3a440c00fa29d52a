"""What the coordinator writes and reads on Kafka: tasks, results, signals, history."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, JsonValue

from longboat import Envelope

__all__ = [
    "HISTORY_TYPE",
    "SIGNAL_TYPE",
    "TASK_TYPE",
    "SignalData",
    "TaskData",
    "signal_event",
    "task_event",
]

TASK_TYPE = "longboat.task"
SIGNAL_TYPE = "longboat.signal"
HISTORY_TYPE = "longboat.workflow.history"
SOURCE = "longboat/coordinator"


class TaskData(BaseModel):
    """The data of a task on ``lb.tasks.<agent>`` (the envelope id is the task id)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task_id: str
    workflow: str
    step: str
    attempt: int
    input: JsonValue = None


class SignalData(BaseModel):
    """The data of a signal on ``lb.signals``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    signal: Literal["approve", "reject", "cancel"]
    by: str
    note: str | None = None


def task_event(workflow_id: str, data: TaskData) -> Envelope:
    """A task envelope whose id is the (deterministic) task id."""
    return Envelope(
        id=data.task_id,
        type=TASK_TYPE,
        source=SOURCE,
        subject=data.step,
        workflowid=workflow_id,
        data=data.model_dump(mode="json"),
    )


def signal_event(workflow_id: str, data: SignalData) -> Envelope:
    """A signal envelope for ``lb.signals``."""
    return Envelope(
        type=SIGNAL_TYPE,
        source="longboat-cli",
        workflowid=workflow_id,
        data=data.model_dump(mode="json"),
    )
