"""The coordinator's exactly-once engine, built from two Longboat agents.

- ``coordinator-router`` turns trigger events, specialist results (``lb.results``) and signals
  (``lb.signals``) into coordinator events on ``lb.coordinator.events``, keyed by workflow id.
- ``coordinator`` applies each event to the workflow's state with the pure state machine and
  writes, in one Kafka transaction with the event's offset: the tasks it dispatches, the history
  entries, and the new state (compacted ``lb.workflows.state``, in the same partition number as
  the event, so the owner of an events partition owns exactly those states).

This is the agent runtime's exactly-once machinery (per-partition transactional ids, fencing,
key-ordered processing, crash-tested): a crash between consuming a result and dispatching the
next task neither loses nor duplicates the task.
"""

from __future__ import annotations

import asyncio
import time

from pydantic import BaseModel, ConfigDict, ValidationError

from longboat import (
    Envelope,
    EnvelopeSerde,
    KafkaSettings,
    TopicNames,
    get_logger,
    log_record_skipped,
    traced,
)
from longboat.agents import (
    Agent,
    Context,
    Task,
    TaskFailure,
    TaskResult,
    task_event,
    task_outcome_of,
)
from longboat.coordinator._definitions import Definition, DefinitionSet
from longboat.coordinator._expressions import ExpressionError, evaluate
from longboat.coordinator._machine import (
    DispatchTask,
    HistoryEntry,
    ScheduleTimer,
    SignalReceived,
    TaskCompleted,
    TaskFailed,
    TimerFired,
    WorkflowStarted,
    WorkflowState,
)
from longboat.coordinator._protocol import (
    CoordinatorEvent,
    coordinator_event,
    coordinator_event_of,
    history_event,
    signal_of,
)
from longboat.coordinator._resume import WorkflowResumed, transition
from longboat.errors import EventError
from longboat.kafka import ConsumedRecord, Producer, TopicPartition, read_to_end

__all__ = ["STATE_TYPE", "CoordinatorEngine", "CoordinatorRecord"]

_log = get_logger("coordinator.engine")
STATE_TYPE = "longboat.workflow.state"


class CoordinatorRecord(BaseModel):
    """What ``lb.workflows.state`` keeps per workflow: its state and its pending timers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    state: WorkflowState
    timers: list[ScheduleTimer] = []
    definition_version: int


class CoordinatorEngine:
    """Owns the workflow states of the events partitions this process holds."""

    def __init__(self, kafka: KafkaSettings, names: TopicNames, definitions: DefinitionSet) -> None:
        """Create the engine; :meth:`router` and :meth:`core` build its two agents."""
        self._kafka = kafka
        self.names = names
        self.definitions = definitions
        self.records: dict[int, dict[str, CoordinatorRecord]] = {}
        self._serde = EnvelopeSerde()
        self._timer_sent: dict[tuple[str, str], float] = {}

    # -- the router -----------------------------------------------------------------------
    def router(self) -> Agent:
        """The agent that turns triggers, results and signals into coordinator events."""
        triggers = sorted({d.trigger.topic for d in self.definitions.all()})
        agent = Agent(
            "coordinator-router",
            topics=[*triggers, self.names.results, self.names.signals],
            tasks=False,
            durability="exit",
            max_in_flight=64,
        )

        @agent.handler
        async def route(ctx: Context, event: Envelope) -> None:
            for workflow_id, body in self._translate(ctx.record.topic, event):
                wrapped = coordinator_event(workflow_id, body, causationid=event.id)
                ctx.emit(self.names.coordinator_events, wrapped, key=workflow_id)

        return agent

    def _translate(self, topic: str, event: Envelope) -> list[tuple[str, CoordinatorEvent]]:
        try:
            if topic == self.names.results:
                return self._result(event)
            if topic == self.names.signals:
                return self._signal(event)
        except EventError as e:
            # Another component's bad record must not stop the coordinator: log it, move on.
            _log.warning("coordinator_input_invalid", topic=topic, reason=str(e)[:500])
            return []
        return self._starts(topic, event)

    def _result(self, event: Envelope) -> list[tuple[str, CoordinatorEvent]]:
        outcome = task_outcome_of(event)
        if outcome is None or not event.workflowid:
            return []
        done: TaskCompleted | TaskFailed
        if isinstance(outcome, TaskResult):
            done = TaskCompleted(task_id=outcome.task_id, output=outcome.output)
        else:
            done = TaskFailed(task_id=outcome.task_id, error=_failure_reason(outcome))
        return [(event.workflowid, CoordinatorEvent(event=done))]

    def _signal(self, event: Envelope) -> list[tuple[str, CoordinatorEvent]]:
        found = signal_of(event)
        if found is None:
            return []
        workflow_id, signal = found
        if signal.signal == "resume":
            resumed = WorkflowResumed(
                from_step=str(signal.from_step),
                version=signal.version,
                by=signal.by,
                note=signal.note,
            )
            return [(workflow_id, CoordinatorEvent(event=resumed))]
        received = SignalReceived(signal=signal.signal, by=signal.by, note=signal.note)
        return [(workflow_id, CoordinatorEvent(event=received))]

    def _starts(self, topic: str, event: Envelope) -> list[tuple[str, CoordinatorEvent]]:
        started: list[tuple[str, CoordinatorEvent]] = []
        trigger = event.model_dump(mode="json")
        for definition in self.definitions.latest_for(topic, event.type):
            workflow_id = event.id
            if definition.trigger.workflow_id is not None:
                try:
                    workflow_id = str(
                        evaluate(definition.trigger.workflow_id[2:-1], {"event": trigger})
                    )
                except ExpressionError as e:
                    _log.warning("workflow_id_failed", definition=definition.name, reason=str(e))
                    continue
            start = WorkflowStarted(workflow_id=workflow_id, trigger=trigger)
            body = CoordinatorEvent(
                event=start, definition=definition.name, version=definition.version
            )
            started.append((workflow_id, body))
        return started

    # -- the core -------------------------------------------------------------------------
    def core(self) -> Agent:
        """The agent that applies events to workflow states (exactly once)."""
        agent = Agent(
            "coordinator",
            topics=[self.names.coordinator_events],
            tasks=False,
            durability="exit",
            max_in_flight=32,
            on_assigned=self._load,
            on_revoked=self._drop,
        )

        @agent.handler
        async def handle(ctx: Context, event: Envelope) -> None:
            await self._apply(ctx, event)

        return agent

    async def _apply(self, ctx: Context, envelope: Envelope) -> None:
        workflow_id, body = coordinator_event_of(envelope)
        event = body.event
        partition = ctx.record.partition
        current = self.records.setdefault(partition, {}).get(workflow_id)
        definition = self._definition(workflow_id, current, body)
        if definition is None:
            return
        state, commands = transition(
            definition, current.state if current else None, event, now=time.time()
        )
        if state is None:
            return
        timers = [
            t
            for t in (current.timers if current else [])
            if not (isinstance(event, TimerFired) and t.token == event.token)
        ]
        if current is not None and state.resumes != current.state.resumes:
            timers = []  # a resumed workflow's old timers belong to steps it starts again
        for command in commands:
            if isinstance(command, DispatchTask):
                task = Task(
                    task_id=command.task_id,
                    workflow=definition.name,
                    step=command.step_id,
                    attempt=command.attempt,
                    input=command.input,
                )
                # The task carries this span: the specialist's run continues the trace under it.
                with traced(f"dispatch {command.agent}", attributes=_dispatch_attributes(task)):
                    ctx.emit(
                        self.names.tasks(command.agent),
                        task_event(workflow_id, task),
                        key=workflow_id,
                    )
            elif isinstance(command, HistoryEntry):
                entry = history_event(workflow_id, command)
                ctx.emit(self.names.workflows_history, entry, key=workflow_id)
            else:
                timers.append(command)
        record = CoordinatorRecord(
            state=state, timers=timers, definition_version=definition.version
        )
        snapshot = Envelope(
            type=STATE_TYPE,
            source="longboat/coordinator",
            workflowid=workflow_id,
            data=record.model_dump(mode="json"),
        )
        # Same partition number as the event: whoever owns the events partition owns the state.
        ctx.emit(self.names.workflows_state, snapshot, key=workflow_id, partition=partition)
        self.records[partition][workflow_id] = record

    def _definition(
        self, workflow_id: str, current: CoordinatorRecord | None, body: CoordinatorEvent
    ) -> Definition | None:
        """The definition ``body`` applies to: the workflow's version, or the one it resumes on."""
        if current is None:
            name, version = str(body.definition), body.version or 0
        else:
            name, version = current.state.definition, current.definition_version
            event = body.event
            if isinstance(event, WorkflowResumed) and event.version is not None:
                # Not deployed: the transition gets the workflow's own version and refuses.
                wanted = self.definitions.get(name, event.version)
                if wanted is not None:
                    return wanted
        definition = self.definitions.get(name, version)
        if definition is None:
            _log.error(
                "definition_missing", workflow_id=workflow_id, definition=name, version=version
            )
        return definition

    async def _load(self, tp: TopicPartition) -> None:
        """Read this partition's workflow states (committed only) before its events run."""
        records: dict[str, CoordinatorRecord] = {}
        async for raw in read_to_end(
            self._kafka, self.names.workflows_state, partitions=[tp.partition]
        ):
            self._restore(records, raw)
        self.records[tp.partition] = records
        _log.info("workflow_states_loaded", partition=tp.partition, workflows=len(records))

    def _restore(self, records: dict[str, CoordinatorRecord], raw: ConsumedRecord) -> None:
        workflow_id = (raw.key or b"").decode(errors="replace")
        if raw.value is None:
            records.pop(workflow_id, None)
            return
        try:
            records[workflow_id] = CoordinatorRecord.model_validate(
                self._serde.decode(raw.value, raw.headers).data
            )
        except (EventError, ValidationError, ValueError) as e:
            # A record that is not a state (junk on a compacted topic stays forever) must not stop
            # the partition from loading; the workflow's next event is dead-lettered instead.
            log_record_skipped(_log, raw, e, workflow_id=workflow_id)

    async def _drop(self, tp: TopicPartition) -> None:
        self.records.pop(tp.partition, None)

    # -- queries and timers ---------------------------------------------------------------
    def all_records(self) -> list[CoordinatorRecord]:
        """Every workflow this process holds."""
        return [r for partition in list(self.records.values()) for r in partition.values()]

    def record(self, workflow_id: str) -> CoordinatorRecord | None:
        """One workflow, if this process holds it."""
        return next((p[workflow_id] for p in list(self.records.values()) if workflow_id in p), None)

    async def fire_timers(self, stopping: asyncio.Event, interval_s: float) -> None:
        """Send due ``TimerFired`` events until ``stopping`` (at least once; the machine dedups)."""
        async with Producer(self._kafka, linger_ms=0) as producer:
            while not stopping.is_set():
                now = time.time()
                due = [
                    (r.state.workflow_id, t)
                    for r in self.all_records()
                    for t in r.timers
                    if t.due <= now
                ]
                # Tokens are per workflow (a step id and a purpose), so the key is the pair; only
                # timers still pending are remembered, so the map never outgrows the workflows.
                sent = {(wf, t.token): self._timer_sent.get((wf, t.token), 0.0) for wf, t in due}
                for workflow_id, timer in due:
                    if now - sent[workflow_id, timer.token] > 5:  # also resends one not applied yet
                        await self._send_timer(producer, workflow_id, timer)
                        sent[workflow_id, timer.token] = now
                self._timer_sent = sent
                try:
                    await asyncio.wait_for(stopping.wait(), timeout=interval_s)
                except TimeoutError:
                    continue

    async def _send_timer(self, producer: Producer, workflow_id: str, timer: ScheduleTimer) -> None:
        fired = TimerFired(step_id=timer.step_id, purpose=timer.purpose, token=timer.token)
        envelope = coordinator_event(
            workflow_id, CoordinatorEvent(event=fired), source="longboat/coordinator/timers"
        )
        encoded = self._serde.encode(envelope)
        await producer.send(
            self.names.coordinator_events,
            encoded.value,
            key=workflow_id.encode(),
            headers=encoded.headers,
        )


def _dispatch_attributes(task: Task) -> dict[str, str | int]:
    return {
        "longboat.workflow.name": task.workflow,
        "longboat.workflow.step": task.step,
        "longboat.task.id": task.task_id,
        "longboat.task.attempt": task.attempt,
    }


def _failure_reason(failure: TaskFailure) -> str:
    return failure.message or f"{failure.error_type} ({failure.error_code})"
