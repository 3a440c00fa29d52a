"""Ids the coordinator derives and relies on across restarts: task ids and timer tokens.

THESE FORMATS MUST NEVER CHANGE. Task ids are the ids of task envelopes on ``lb.tasks.<agent>``
and come back in specialists' results; timer tokens are stored in ``lb.workflows.state`` and come
back in ``TimerFired`` events. A coordinator upgraded while workflows run reads ids written by the
old version: a changed format would turn every in-flight result into an unknown task (the
workflow would hang) or dispatch a step again under a new id (a second payment).
Deterministic ids are also what make a replayed transition harmless: it dispatches the same task
id, never a second task. ``tests/unit/coordinator/test_identity.py`` pins known values.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "approval_timeout_token",
    "compensation_step_id",
    "compensation_task_id",
    "is_compensation_task",
    "retry_token",
    "task_id",
    "timer_token",
]

_COMPENSATE: Final = "compensate"


def task_id(workflow_id: str, step_id: str, attempt: int) -> str:
    """The id of attempt ``attempt`` (1, 2, ...) of task step ``step_id``: ``wf:step:attempt``."""
    return f"{workflow_id}:{step_id}:{attempt}"


def compensation_task_id(workflow_id: str, step_id: str) -> str:
    """The id of the compensation task of step ``step_id`` (it runs at most once)."""
    return f"{workflow_id}:{step_id}:{_COMPENSATE}"


def is_compensation_task(task: str) -> bool:
    """Whether ``task`` is a compensation task's id (its result fails the workflow)."""
    return task.endswith(f":{_COMPENSATE}")


def compensation_step_id(step_id: str) -> str:
    """The step name a compensation task carries (``Task.step``)."""
    return f"{step_id}.{_COMPENSATE}"


def timer_token(step_id: str) -> str:
    """The token of a timer step's timer."""
    return f"{step_id}:timer"


def approval_timeout_token(step_id: str) -> str:
    """The token of an approval gate's timeout."""
    return f"{step_id}:approval"


def retry_token(step_id: str, attempt: int) -> str:
    """The token of the timer that dispatches attempt ``attempt`` of a failed task step."""
    return f"{step_id}:retry:{attempt}"
