"""Workflow state transitions as a pure function: ``apply(definition, state, event, now)``.

No I/O, no clock, no randomness: the same inputs give the same state and commands, so
transitions are tested without Kafka and a workflow can be rebuilt by replaying its history.
Late or duplicate events (a result for a finished step, an older attempt's result, a second
approval) change nothing and produce no command: that is what makes redelivery harmless.
Resuming a finished workflow from a step (maybe on another definition version) is the other
pure transition, in :mod:`._resume`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from longboat.coordinator._definitions import (
    ApprovalStep,
    Definition,
    ParallelStep,
    Step,
    TaskSpec,
    TaskStep,
    TimerStep,
)
from longboat.coordinator._expressions import ExpressionError, evaluate, render
from longboat.coordinator._identity import (
    approval_timeout_token,
    compensation_step_id,
    compensation_task_id,
    is_compensation_task,
    retry_token,
    task_id,
    timer_token,
)

__all__ = [
    "Command",
    "DispatchTask",
    "Event",
    "HistoryEntry",
    "ScheduleTimer",
    "SignalReceived",
    "StepState",
    "TaskCompleted",
    "TaskFailed",
    "TimerFired",
    "WorkflowStarted",
    "WorkflowState",
    "apply",
]

WorkflowStatus = Literal[
    "running", "waiting_approval", "completed", "failed", "cancelled", "rejected"
]
TERMINAL = ("completed", "failed", "cancelled", "rejected")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StepState(_Model):
    """Where one step is."""

    status: Literal["dispatched", "waiting", "completed", "failed", "skipped", "approved"] = (
        "dispatched"
    )
    attempts: int = 0
    task_id: str | None = None
    output: JsonValue = None
    error: str | None = None
    decided_by: str | None = None
    note: str | None = None
    escalated_to: str | None = None


class WorkflowState(_Model):
    """Everything the coordinator keeps about one workflow."""

    workflow_id: str
    definition: str
    version: int
    status: WorkflowStatus = "running"
    cursor: int = 0
    trigger: JsonValue
    steps: dict[str, StepState] = Field(default_factory=dict)
    reason: str | None = None
    started_at: float
    updated_at: float
    # Attempts spent before the last resume, per step dropped by it: a resumed step's attempts
    # continue from there, so its task ids are new (a specialist never takes one for a replay).
    attempts_before: dict[str, int] = Field(default_factory=dict)
    resumes: int = 0


# -- events ---------------------------------------------------------------------------------
class WorkflowStarted(_Model):
    """A trigger event arrived."""

    kind: Literal["started"] = "started"
    workflow_id: str
    trigger: JsonValue


class TaskCompleted(_Model):
    """A specialist's result."""

    kind: Literal["task_completed"] = "task_completed"
    task_id: str
    output: JsonValue = None


class TaskFailed(_Model):
    """A specialist gave up on a task (it was dead-lettered there)."""

    kind: Literal["task_failed"] = "task_failed"
    task_id: str
    error: str


class SignalReceived(_Model):
    """A human (or system) decision: approve, reject or cancel."""

    kind: Literal["signal"] = "signal"
    signal: Literal["approve", "reject", "cancel"]
    by: str
    note: str | None = None


class TimerFired(_Model):
    """A scheduled timer is due."""

    kind: Literal["timer_fired"] = "timer_fired"
    step_id: str
    purpose: Literal["timer", "retry", "approval_timeout"]
    token: str


Event = Annotated[
    WorkflowStarted | TaskCompleted | TaskFailed | SignalReceived | TimerFired,
    Field(discriminator="kind"),
]


# -- commands -------------------------------------------------------------------------------
class DispatchTask(_Model):
    """Send a task to ``lb.tasks.<agent>``."""

    kind: Literal["dispatch"] = "dispatch"
    task_id: str
    step_id: str
    agent: str
    input: JsonValue
    attempt: int


class ScheduleTimer(_Model):
    """Fire :class:`TimerFired` with ``token`` at ``due`` (seconds since the epoch)."""

    kind: Literal["timer"] = "timer"
    step_id: str
    purpose: Literal["timer", "retry", "approval_timeout"]
    token: str
    due: float


class HistoryEntry(_Model):
    """One line of ``lb.workflows.history``."""

    kind: Literal["history"] = "history"
    type: str
    data: dict[str, JsonValue] = Field(default_factory=dict)


Command = DispatchTask | ScheduleTimer | HistoryEntry


# -- the function ----------------------------------------------------------------------------
def apply(
    definition: Definition, state: WorkflowState | None, event: Event, now: float
) -> tuple[WorkflowState | None, list[Command]]:
    """The workflow after ``event``, and what the coordinator must do about it."""
    if isinstance(event, WorkflowStarted):
        if state is not None:
            return state, []  # a redelivered trigger starts nothing twice
        fresh = WorkflowState(
            workflow_id=event.workflow_id,
            definition=definition.name,
            version=definition.version,
            trigger=event.trigger,
            started_at=now,
            updated_at=now,
        )
        start = HistoryEntry(
            type="WorkflowStarted",
            data={"definition": definition.name, "version": definition.version},
        )
        new_state, commands = _advance(definition, fresh, now)
        return new_state, [start, *commands]
    if state is None or state.status in TERMINAL:
        return state, []
    if isinstance(event, SignalReceived):
        return _signal(definition, state, event, now)
    if isinstance(event, TaskCompleted | TaskFailed):
        return _result(definition, state, event, now)
    return _timer(definition, state, event, now)


def _names(state: WorkflowState) -> dict[str, JsonValue]:
    steps: dict[str, JsonValue] = {sid: s.model_dump(mode="json") for sid, s in state.steps.items()}
    return {
        "event": state.trigger,
        "steps": steps,
        "workflow": {
            "id": state.workflow_id,
            "definition": state.definition,
            "version": state.version,
        },
    }


def _with(state: WorkflowState, now: float, **changes: object) -> WorkflowState:
    return state.model_copy(update={**changes, "updated_at": now})


def _set_step(state: WorkflowState, step_id: str, step: StepState, now: float) -> WorkflowState:
    return _with(state, now, steps={**state.steps, step_id: step})


def _dispatch(
    state: WorkflowState, step_id: str, spec: TaskSpec, attempt: int, now: float
) -> tuple[WorkflowState, list[Command]]:
    # Deterministic: a replayed transition dispatches the same task id, never a second task.
    tid = task_id(state.workflow_id, step_id, attempt)
    payload = render(spec.input, _names(state))
    state = _set_step(
        state, step_id, StepState(status="dispatched", attempts=attempt, task_id=tid), now
    )
    return state, [
        DispatchTask(
            task_id=tid, step_id=step_id, agent=spec.agent, input=payload, attempt=attempt
        ),
        HistoryEntry(
            type="TaskDispatched",
            data={"step": step_id, "task_id": tid, "agent": spec.agent, "attempt": attempt},
        ),
    ]


def _fail(state: WorkflowState, reason: str, now: float) -> tuple[WorkflowState, list[Command]]:
    return _with(state, now, status="failed", reason=reason), [
        HistoryEntry(type="WorkflowFailed", data={"reason": reason})
    ]


def _advance(
    definition: Definition, state: WorkflowState, now: float
) -> tuple[WorkflowState, list[Command]]:
    """Start steps from the cursor until one has to wait, or the workflow is done."""
    commands: list[Command] = []
    while state.cursor < len(definition.steps):
        step = definition.steps[state.cursor]
        current = state.steps.get(step.id)
        if current is not None and current.status in ("completed", "skipped", "approved"):
            state = _with(state, now, cursor=state.cursor + 1)
            continue
        if current is not None:
            return state, commands  # started, still waiting
        if step.when is not None:
            try:
                go = bool(evaluate(step.when, _names(state)))
            except ExpressionError as e:
                state, failed = _fail(state, f"step {step.id}: condition failed: {e}", now)
                return state, [*commands, *failed]
            if not go:
                state = _set_step(state, step.id, StepState(status="skipped"), now)
                commands.append(HistoryEntry(type="StepSkipped", data={"step": step.id}))
                continue
        try:
            state, started = _start(state, step, now)
        except ExpressionError as e:
            state, failed = _fail(state, f"step {step.id}: input mapping failed: {e}", now)
            return state, [*commands, *failed]
        return state, [*commands, *started]
    completed = _with(state, now, status="completed")
    return completed, [*commands, HistoryEntry(type="WorkflowCompleted")]


def _first_attempt(state: WorkflowState, step_id: str) -> int:
    return state.attempts_before.get(step_id, 0) + 1


def _start(state: WorkflowState, step: Step, now: float) -> tuple[WorkflowState, list[Command]]:
    if isinstance(step, TaskStep):
        return _dispatch(state, step.id, step.task, _first_attempt(state, step.id), now)
    if isinstance(step, ParallelStep):
        commands: list[Command] = []
        state = _set_step(state, step.id, StepState(status="waiting"), now)
        for branch in step.parallel:
            first = _first_attempt(state, branch.id)
            state, dispatched = _dispatch(state, branch.id, branch.task, first, now)
            commands += dispatched
        return state, commands
    if isinstance(step, TimerStep):
        token = timer_token(step.id)
        state = _set_step(state, step.id, StepState(status="waiting"), now)
        return state, [
            ScheduleTimer(
                step_id=step.id, purpose="timer", token=token, due=now + step.timer.seconds
            )
        ]
    return _request_approval(state, step, now)


def _request_approval(
    state: WorkflowState, step: ApprovalStep, now: float
) -> tuple[WorkflowState, list[Command]]:
    state = _with(
        _set_step(state, step.id, StepState(status="waiting"), now), now, status="waiting_approval"
    )
    commands: list[Command] = [
        HistoryEntry(
            type="ApprovalRequested", data={"step": step.id, "prompt": step.approval.prompt}
        )
    ]
    if step.approval.timeout_s is not None:
        commands.append(
            ScheduleTimer(
                step_id=step.id,
                purpose="approval_timeout",
                token=approval_timeout_token(step.id),
                due=now + step.approval.timeout_s,
            )
        )
    return state, commands


def _find_task(definition: Definition, step_id: str) -> tuple[TaskStep, ParallelStep | None] | None:
    for step in definition.steps:
        if isinstance(step, TaskStep) and step.id == step_id:
            return step, None
        if isinstance(step, ParallelStep):
            for branch in step.parallel:
                if branch.id == step_id:
                    return branch, step
    return None


def _owner(state: WorkflowState, task_id: str) -> str | None:
    return next(
        (
            sid
            for sid, s in state.steps.items()
            if s.task_id == task_id and s.status == "dispatched"
        ),
        None,
    )


def _result(
    definition: Definition, state: WorkflowState, event: TaskCompleted | TaskFailed, now: float
) -> tuple[WorkflowState, list[Command]]:
    step_id = _owner(state, event.task_id)
    if step_id is None:
        if is_compensation_task(event.task_id) and state.reason is not None:
            # Only while compensating: a resume clears the reason, so an old one changes nothing.
            reason = state.reason or "compensated"
            return _fail(state, reason, now)
        return state, []  # late, duplicate or superseded: nothing to do
    found = _find_task(definition, step_id)
    if found is None:  # pragma: no cover - the state only holds steps of its definition
        return state, []
    task, parallel = found
    current = state.steps[step_id]
    if isinstance(event, TaskFailed):
        return _task_failed(state, task, current, event, now)
    done = current.model_copy(update={"status": "completed", "output": event.output})
    state = _set_step(state, step_id, done, now)
    commands: list[Command] = [
        HistoryEntry(type="TaskCompleted", data={"step": step_id, "task_id": event.task_id})
    ]
    if parallel is not None:
        if not all(
            state.steps.get(b.id, StepState()).status == "completed" for b in parallel.parallel
        ):
            return state, commands  # the join waits for every branch
        outputs: JsonValue = {b.id: state.steps[b.id].output for b in parallel.parallel}
        state = _set_step(state, parallel.id, StepState(status="completed", output=outputs), now)
    state, more = _advance(definition, state, now)
    return state, [*commands, *more]


def _task_failed(
    state: WorkflowState, task: TaskStep, current: StepState, event: TaskFailed, now: float
) -> tuple[WorkflowState, list[Command]]:
    commands: list[Command] = [
        HistoryEntry(
            type="TaskFailed",
            data={"step": task.id, "task_id": event.task_id, "error": event.error},
        )
    ]
    tries = current.attempts - state.attempts_before.get(task.id, 0)  # since the last resume
    if tries < task.retry.max_attempts:
        delay = task.retry.backoff_s * task.retry.multiplier ** (tries - 1)
        token = retry_token(task.id, current.attempts + 1)
        waiting = current.model_copy(update={"status": "failed", "error": event.error})
        state = _set_step(state, task.id, waiting, now)
        return state, [
            *commands,
            ScheduleTimer(step_id=task.id, purpose="retry", token=token, due=now + delay),
        ]
    reason = f"step {task.id} failed after {tries} attempt(s): {event.error}"
    state = _set_step(
        state, task.id, current.model_copy(update={"status": "failed", "error": event.error}), now
    )
    if task.compensate is not None:
        state = _with(state, now, reason=reason)
        compensation_id = compensation_task_id(state.workflow_id, task.id)
        payload = render(task.compensate.input, _names(state))
        return state, [
            *commands,
            DispatchTask(
                task_id=compensation_id,
                step_id=compensation_step_id(task.id),
                agent=task.compensate.agent,
                input=payload,
                attempt=1,
            ),
            HistoryEntry(
                type="CompensationDispatched", data={"step": task.id, "task_id": compensation_id}
            ),
        ]
    state, failed = _fail(state, reason, now)
    return state, [*commands, *failed]


def _waiting_approval(definition: Definition, state: WorkflowState) -> ApprovalStep | None:
    if state.cursor >= len(definition.steps):
        return None
    step = definition.steps[state.cursor]
    return (
        step
        if isinstance(step, ApprovalStep)
        and state.steps.get(step.id, StepState()).status == "waiting"
        else None
    )


def _signal(
    definition: Definition, state: WorkflowState, event: SignalReceived, now: float
) -> tuple[WorkflowState, list[Command]]:
    received = HistoryEntry(
        type="SignalReceived", data={"signal": event.signal, "by": event.by, "note": event.note}
    )
    if event.signal == "cancel":
        cancelled = _with(state, now, status="cancelled", reason=f"cancelled by {event.by}")
        return cancelled, [received, HistoryEntry(type="WorkflowCancelled", data={"by": event.by})]
    step = _waiting_approval(definition, state)
    if step is None:
        return state, []  # nothing is waiting for a decision: a late or duplicate signal
    return _decide(
        definition,
        state,
        step,
        approve=event.signal == "approve",
        by=event.by,
        note=event.note,
        now=now,
        history=[received],
    )


def _decide(
    definition: Definition,
    state: WorkflowState,
    step: ApprovalStep,
    *,
    approve: bool,
    by: str,
    note: str | None,
    now: float,
    history: list[Command],
) -> tuple[WorkflowState, list[Command]]:
    current = state.steps[step.id]
    if not approve:
        state = _set_step(
            state,
            step.id,
            current.model_copy(update={"status": "failed", "decided_by": by, "note": note}),
            now,
        )
        rejected = _with(state, now, status="rejected", reason=f"rejected by {by}")
        return rejected, [
            *history,
            HistoryEntry(type="WorkflowRejected", data={"step": step.id, "by": by}),
        ]
    state = _set_step(
        state,
        step.id,
        current.model_copy(update={"status": "approved", "decided_by": by, "note": note}),
        now,
    )
    state = _with(state, now, status="running")
    state, more = _advance(definition, state, now)
    return state, [*history, *more]


def _timer(
    definition: Definition, state: WorkflowState, event: TimerFired, now: float
) -> tuple[WorkflowState, list[Command]]:
    current = state.steps.get(event.step_id)
    if current is None:
        return state, []
    fired = HistoryEntry(type="TimerFired", data={"step": event.step_id, "purpose": event.purpose})
    if event.purpose == "timer" and current.status == "waiting":
        state = _set_step(
            state, event.step_id, current.model_copy(update={"status": "completed"}), now
        )
        state, more = _advance(definition, state, now)
        return state, [fired, *more]
    if (
        event.purpose == "retry"
        and current.status == "failed"
        and event.token == retry_token(event.step_id, current.attempts + 1)
    ):
        found = _find_task(definition, event.step_id)
        if found is None:  # pragma: no cover
            return state, []
        state, dispatched = _dispatch(
            state, event.step_id, found[0].task, current.attempts + 1, now
        )
        return state, [fired, *dispatched]
    step = _waiting_approval(definition, state)
    if event.purpose == "approval_timeout" and step is not None and step.id == event.step_id:
        action = step.approval.on_timeout
        if action == "escalate":
            if current.escalated_to is not None:
                return state, []
            escalated = current.model_copy(
                update={"escalated_to": step.approval.escalate_to or "escalation"}
            )
            state = _set_step(state, step.id, escalated, now)
            return state, [
                fired,
                HistoryEntry(
                    type="ApprovalEscalated", data={"step": step.id, "to": escalated.escalated_to}
                ),
            ]
        return _decide(
            definition,
            state,
            step,
            approve=action == "approve",
            by="timeout",
            note=None,
            now=now,
            history=[fired],
        )
    return state, []
