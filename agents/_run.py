"""One run: decode the record, call the handler with a context, collect its outputs."""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog

from longboat import Envelope, get_logger
from longboat.agents._context import Context, JournalWriter, RunScope, StepFailed
from longboat.agents._dlq import DeadLetter, dead_letter_output
from longboat.agents._identity import run_id
from longboat.agents._journal import JournalUnavailable, RunHistory
from longboat.agents._outputs import OutputRecord, output_of
from longboat.agents._runtime_deps import RuntimeDeps
from longboat.agents._step_spans import run_span
from longboat.agents._task import TaskFailure, TaskOutcome, TaskResult, task_outcome_event
from longboat.errors import EventError
from longboat.kafka import ConsumedRecord

__all__ = ["JournalUnavailable", "RunOutcome", "execute_run"]

_log = get_logger("agents.run")
PROGRESS = "longboat.agent.progress"


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What a finished run leaves for its checkpoint."""

    outputs: list[OutputRecord]
    status: str  # completed | dead_lettered


async def execute_run(
    deps: RuntimeDeps,
    record: ConsumedRecord,
    history: RunHistory,
    write_journal: JournalWriter,
    *,
    context_type: type[Context] = Context,
    run_id_override: str | None = None,
) -> RunOutcome:
    """Run the handler on ``record`` and return its outputs (dead letters included).

    A failing handler never escapes: the record is dead-lettered with the reason. Only a
    journal failure (:class:`JournalUnavailable`) or cancellation propagates: those are the
    runtime's problems, and the record must run again rather than be dead-lettered.
    ``context_type`` lets ``longboat.agents.testing`` observe the real context's steps;
    ``run_id_override`` names a run that is not the consumer group's (a fork).
    """
    agent = deps.agent
    rid = run_id_override or run_id(deps.group_id, record.topic, record.partition, record.offset)
    structlog.contextvars.bind_contextvars(
        agent_id=agent.name,
        run_id=rid,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
    )
    started = time.perf_counter()
    try:
        try:
            event = deps.serde.decode(record.value, record.headers)
        except EventError as e:
            deps.metrics.dead_lettered(agent.name, "undecodable")
            return _finish(
                deps,
                record,
                rid,
                None,
                _dead(deps, record, rid, e, 1, None),
                "dead_lettered",
                started,
                None,
            )
        with run_span(agent.name, rid, record, event) as span:
            outcome = await _handle(
                deps, record, rid, event, history, write_journal, context_type, started
            )
            span.set("longboat.run.status", outcome.status)
            if outcome.status == "dead_lettered":
                span.fail("the record was dead-lettered")
            return outcome
    finally:
        structlog.contextvars.unbind_contextvars(
            "agent_id", "run_id", "topic", "partition", "offset"
        )


async def _handle(
    deps: RuntimeDeps,
    record: ConsumedRecord,
    rid: str,
    event: Envelope,
    history: RunHistory,
    write_journal: JournalWriter,
    context_type: type[Context],
    started: float,
) -> RunOutcome:
    """Call the handler; a failure dead-letters the record (see :func:`execute_run`)."""
    agent = deps.agent
    ctx = context_type(
        RunScope(agent.name, rid, record, event, history, agent.version),
        durability=agent.durability,
        write_journal=write_journal,
        retry=agent.retry,
        llm=deps.llm,
        llm_model=deps.settings.llm.model,
        serde=deps.serde,
        faults=deps.faults,
        metrics=deps.metrics,
        gateway=deps.gateway,
        llm_via_gateway=deps.llm_via_gateway,
    )
    try:
        result = await agent.handle(ctx, event)
        # Validated inside the try: a return value that is not JSON dead-letters the task.
        done = (
            TaskResult(task_id=event.id, agent=agent.name, output=result)
            if _is_task(deps, record)
            else None
        )
    except JournalUnavailable:
        raise
    except Exception as e:  # the top of a run decides: dead-letter it
        attempts = e.attempts if isinstance(e, StepFailed) else 1
        deps.metrics.dead_lettered(agent.name, "handler_failed")
        return _finish(
            deps,
            record,
            rid,
            event,
            _dead(deps, record, rid, e, attempts, event),
            "dead_lettered",
            started,
            ctx,
        )
    deps.faults.reached("run.after_handler")
    outputs = ctx.outputs
    if done is not None:
        outputs.append(_task_outcome(deps, event, done, record))
    return _finish(deps, record, rid, event, outputs, "completed", started, ctx)


def _is_task(deps: RuntimeDeps, record: ConsumedRecord) -> bool:
    return deps.agent.tasks and record.topic == deps.names.tasks(deps.agent.name)


def _task_outcome(
    deps: RuntimeDeps, task: Envelope, outcome: TaskOutcome, record: ConsumedRecord
) -> OutputRecord:
    result = task_outcome_event(task, outcome)
    key = task.workflowid.encode() if task.workflowid else record.key
    return output_of(deps.serde, deps.names.results, result, key)


def _dead(
    deps: RuntimeDeps,
    record: ConsumedRecord,
    rid: str,
    error: BaseException,
    attempts: int,
    event: Envelope | None,
) -> list[OutputRecord]:
    letter = DeadLetter.of(deps.agent.name, rid, record, error, attempts)
    _log.warning(
        "record_dead_lettered",
        error_type=letter.error_type,
        attempt=attempts,
        reason=letter.message[:500],
    )
    outputs = [dead_letter_output(deps.serde, deps.names.dlq(deps.agent.name), letter, record)]
    if event is not None and _is_task(deps, record):
        failure = TaskFailure(
            task_id=event.id,
            agent=deps.agent.name,
            error_type=letter.error_type,
            error_code=letter.error_code,
            message=letter.message,
            attempts=attempts,
        )
        outputs.append(_task_outcome(deps, event, failure, record))
    return outputs


def _finish(
    deps: RuntimeDeps,
    record: ConsumedRecord,
    rid: str,
    event: Envelope | None,
    outputs: list[OutputRecord],
    status: str,
    started: float,
    ctx: Context | None,
) -> RunOutcome:
    duration_ms = round((time.perf_counter() - started) * 1000, 3)
    executed = ctx.executed_steps if ctx else 0
    replayed = ctx.replayed_steps if ctx else 0
    progress = Envelope(
        type=PROGRESS,
        source=f"longboat/agent/{deps.agent.name}",
        subject=record.coordinates,
        workflowid=event.workflowid if event else None,
        causationid=event.id if event else None,
        data={
            "agent": deps.agent.name,
            "run_id": rid,
            "status": status,
            "duration_ms": duration_ms,
            "steps_executed": executed,
            "steps_replayed": replayed,
        },
    )
    key = event.workflowid.encode() if event and event.workflowid else record.key
    outputs = [*outputs, output_of(deps.serde, deps.names.progress, progress, key)]
    deps.metrics.record_processed(deps.agent.name, status)
    _log.info(
        "record_processed",
        status=status,
        duration_ms=duration_ms,
        steps_executed=executed,
        steps_replayed=replayed,
    )
    return RunOutcome(outputs, status)
