"""Resuming a failed or cancelled workflow from a step, maybe on a new definition version.

A pure transition like :func:`~._machine.apply` (no I/O, no clock): ``resume(definition, state,
event, now)`` where ``definition`` is the version the operator asked for (the engine passes the
workflow's own version when that one is not deployed, and the transition refuses).

What a resume keeps and what it changes:

- the steps before the chosen one keep their state and outputs (they are not run again); each
  of them must have completed, been skipped or approved, else the resume is refused;
- the chosen step and every later one are dropped and start again from the cursor, on the new
  version's definition; the attempts they had spent are remembered, so attempts continue and
  every task id is new (``wf:step:attempt`` with a higher attempt): a specialist that deduplicates
  by task id runs it, and a late result of the old attempt matches nothing;
- the workflow is running again, on the new version, and the history records who resumed it,
  from where, and on which version (``WorkflowResumed``), or why not (``ResumeRefused``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, JsonValue

from longboat.coordinator._definitions import Definition, ParallelStep
from longboat.coordinator._machine import (
    Command,
    Event,
    HistoryEntry,
    SignalReceived,
    TaskCompleted,
    TaskFailed,
    TimerFired,
    WorkflowStarted,
    WorkflowState,
    _advance,
    _Model,
    apply,
)

__all__ = ["RESUMABLE", "AnyEvent", "WorkflowResumed", "resume", "transition"]

RESUMABLE = ("failed", "cancelled")
_DONE = ("completed", "skipped", "approved")


class WorkflowResumed(_Model):
    """An operator resumes a failed or cancelled workflow from ``from_step``.

    ``version`` is the definition version to continue on (None: the workflow's own version).
    """

    kind: Literal["resumed"] = "resumed"
    from_step: str
    version: int | None = None
    by: str
    note: str | None = None


AnyEvent = Annotated[
    WorkflowStarted | TaskCompleted | TaskFailed | SignalReceived | TimerFired | WorkflowResumed,
    Field(discriminator="kind"),
]


def transition(
    definition: Definition, state: WorkflowState | None, event: AnyEvent, now: float
) -> tuple[WorkflowState | None, list[Command]]:
    """Any coordinator event applied: a resume here, everything else by :func:`apply`."""
    if isinstance(event, WorkflowResumed):
        return resume(definition, state, event, now)
    plain: Event = event
    return apply(definition, state, plain, now)


def resume(
    definition: Definition, state: WorkflowState | None, event: WorkflowResumed, now: float
) -> tuple[WorkflowState | None, list[Command]]:
    """The workflow resumed from ``event.from_step`` on ``definition``, or refused in history."""
    if state is None:
        return None, []  # no such workflow here: nothing to resume, nothing to record
    problem = _refusal(definition, state, event)
    if problem is not None:
        refused = HistoryEntry(
            type="ResumeRefused",
            data={
                "from_step": event.from_step,
                "version": event.version,
                "by": event.by,
                "reason": problem,
            },
        )
        return state, [refused]
    index = [s.id for s in definition.steps].index(event.from_step)
    before = _step_ids(definition, index)
    kept = {sid: s for sid, s in state.steps.items() if sid in before}
    attempts = dict(state.attempts_before)
    for sid, step in state.steps.items():
        if sid not in kept:
            attempts[sid] = max(attempts.get(sid, 0), step.attempts)
    resumed = state.model_copy(
        update={
            "version": definition.version,
            "status": "running",
            "reason": None,
            "cursor": index,
            "steps": kept,
            "attempts_before": attempts,
            "resumes": state.resumes + 1,
            "updated_at": now,
        }
    )
    kept_ids: list[JsonValue] = list(kept)
    entry = HistoryEntry(
        type="WorkflowResumed",
        data={
            "from_step": event.from_step,
            "version": definition.version,
            "previous_version": state.version,
            "previous_status": state.status,
            "by": event.by,
            "note": event.note,
            "kept": kept_ids,
        },
    )
    new_state, commands = _advance(definition, resumed, now)
    return new_state, [entry, *commands]


def _step_ids(definition: Definition, index: int) -> set[str]:
    """The ids of the top-level steps before ``index`` and of their parallel branches."""
    ids: set[str] = set()
    for step in definition.steps[:index]:
        ids.add(step.id)
        if isinstance(step, ParallelStep):
            ids.update(b.id for b in step.parallel)
    return ids


def _refusal(definition: Definition, state: WorkflowState, event: WorkflowResumed) -> str | None:
    """Why this resume cannot apply (a sentence that says what to do), or None."""
    if state.status not in RESUMABLE:
        return (
            f"workflow {state.workflow_id} is {state.status}; only a failed or cancelled "
            "workflow can be resumed"
        )
    wanted = state.version if event.version is None else event.version
    if definition.name != state.definition or definition.version != wanted:
        return (
            f"version {wanted} of {state.definition} is not deployed on this coordinator; "
            "deploy it (its YAML in the definitions folder) and resume again"
        )
    top = [s.id for s in definition.steps]
    if event.from_step not in top:
        return _unknown_step(definition, event.from_step)
    for step in definition.steps[: top.index(event.from_step)]:
        current = state.steps.get(step.id)
        if current is None or current.status not in _DONE:
            status = "never ran" if current is None else f"is {current.status}"
            return (
                f"step {step.id} (before {event.from_step}) {status} in this workflow; "
                f"resume from {step.id} or an earlier step"
            )
    return None


def _unknown_step(definition: Definition, step_id: str) -> str:
    for step in definition.steps:
        if isinstance(step, ParallelStep) and step_id in {b.id for b in step.parallel}:
            return f"step {step_id} is a branch of parallel step {step.id}; resume from {step.id}"
    steps = ", ".join(s.id for s in definition.steps)
    return (
        f"no step {step_id} in {definition.name} v{definition.version} (its steps: {steps}); "
        "name one of them with --from-step"
    )
