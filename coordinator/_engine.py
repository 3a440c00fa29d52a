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

from pydantic import BaseModel, ConfigDict, JsonValue, TypeAdapter, ValidationError

from longboat import Envelope, EnvelopeSerde, KafkaSettings, TopicNames, get_logger
from longboat.agents import Agent, Context
from longboat.coordinator._definitions import DefinitionSet
from longboat.coordinator._expressions import ExpressionError, evaluate
from longboat.coordinator._machine import (
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
from longboat.coordinator._protocol import (
    HISTORY_TYPE,
    SIGNAL_TYPE,
    SignalData,
    TaskData,
    task_event,
)
from longboat.kafka import Producer, TopicPartition, read_to_end

__all__ = ["COORDINATOR_EVENT", "STATE_TYPE", "CoordinatorEngine", "CoordinatorRecord"]

_log = get_logger("coordinator.engine")
COORDINATOR_EVENT = "longboat.coordinator.event"
STATE_TYPE = "longboat.workflow.state"
TASK_COMPLETED = "longboat.task.completed"
TASK_FAILED = "longboat.task.failed"
_EVENTS: TypeAdapter[Event] = TypeAdapter(Event)


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
        async def route(ctx: Context, event: Envelope) -> JsonValue:
            for workflow_id, body in self._translate(ctx.record.topic, event):
                wrapped = Envelope(
                    type=COORDINATOR_EVENT,
                    source="longboat/coordinator",
                    workflowid=workflow_id,
                    causationid=event.id,
                    data=body,
                )
                ctx.emit(self.names.coordinator_events, wrapped, key=workflow_id)
            return None

        return agent

    def _translate(self, topic: str, event: Envelope) -> list[tuple[str, dict[str, JsonValue]]]:
        data = event.data if isinstance(event.data, dict) else {}
        if (
            topic == self.names.results
            and event.workflowid
            and event.type in (TASK_COMPLETED, TASK_FAILED)
        ):
            task_id = str(data.get("task_id"))
            if event.type == TASK_COMPLETED:
                done: Event = TaskCompleted(task_id=task_id, output=data.get("output"))
            else:
                done = TaskFailed(task_id=task_id, error=str(data.get("message", "failed")))
            return [(event.workflowid, {"event": done.model_dump(mode="json")})]
        if topic == self.names.signals and event.workflowid and event.type == SIGNAL_TYPE:
            try:
                signal = SignalData.model_validate(data)
            except ValidationError:
                _log.warning("signal_invalid", workflow_id=event.workflowid)
                return []
            received = SignalReceived(signal=signal.signal, by=signal.by, note=signal.note)
            return [(event.workflowid, {"event": received.model_dump(mode="json")})]
        return self._starts(topic, event)

    def _starts(self, topic: str, event: Envelope) -> list[tuple[str, dict[str, JsonValue]]]:
        started: list[tuple[str, dict[str, JsonValue]]] = []
        trigger: JsonValue = event.model_dump(mode="json")
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
            started.append(
                (
                    workflow_id,
                    {
                        "event": start.model_dump(mode="json"),
                        "definition": definition.name,
                        "version": definition.version,
                    },
                )
            )
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
        async def handle(ctx: Context, event: Envelope) -> JsonValue:
            await self._apply(ctx, event)
            return None

        return agent

    async def _apply(self, ctx: Context, envelope: Envelope) -> None:
        workflow_id = envelope.workflowid
        body = envelope.data if isinstance(envelope.data, dict) else {}
        if workflow_id is None or "event" not in body:
            return
        event = _EVENTS.validate_python(body["event"])
        partition = ctx.record.partition
        current = self.records.setdefault(partition, {}).get(workflow_id)
        if current is not None:
            name, version = current.state.definition, current.definition_version
        else:
            name, version = str(body.get("definition")), int(str(body.get("version", 0)))
        definition = self.definitions.get(name, version)
        if definition is None:
            _log.error(
                "definition_missing", workflow_id=workflow_id, definition=name, version=version
            )
            return
        state, commands = apply(
            definition, current.state if current else None, event, now=time.time()
        )
        if state is None:
            return
        timers = [
            t
            for t in (current.timers if current else [])
            if not (isinstance(event, TimerFired) and t.token == event.token)
        ]
        for command in commands:
            if isinstance(command, DispatchTask):
                task = TaskData(
                    task_id=command.task_id,
                    workflow=definition.name,
                    step=command.step_id,
                    attempt=command.attempt,
                    input=command.input,
                )
                ctx.emit(
                    self.names.tasks(command.agent), task_event(workflow_id, task), key=workflow_id
                )
            elif isinstance(command, HistoryEntry):
                entry = Envelope(
                    type=HISTORY_TYPE,
                    source="longboat/coordinator",
                    workflowid=workflow_id,
                    subject=command.type,
                    data={"type": command.type, **command.data},
                )
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

    async def _load(self, tp: TopicPartition) -> None:
        """Read this partition's workflow states (committed only) before its events run."""
        records: dict[str, CoordinatorRecord] = {}
        async for raw in read_to_end(
            self._kafka, self.names.workflows_state, partitions=[tp.partition]
        ):
            self._restore(records, raw.key, raw.value, raw.headers)
        self.records[tp.partition] = records
        _log.info("workflow_states_loaded", partition=tp.partition, workflows=len(records))

    def _restore(
        self,
        records: dict[str, CoordinatorRecord],
        key: bytes | None,
        value: bytes | None,
        headers: tuple[tuple[str, bytes], ...],
    ) -> None:
        workflow_id = (key or b"").decode()
        if value is None:
            records.pop(workflow_id, None)
            return
        try:
            records[workflow_id] = CoordinatorRecord.model_validate(
                self._serde.decode(value, headers).data
            )
        except (ValidationError, ValueError) as e:
            _log.error(
                "workflow_state_invalid", workflow_id=workflow_id, error_type=type(e).__name__
            )

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
        envelope = Envelope(
            type=COORDINATOR_EVENT,
            source="longboat/coordinator/timers",
            workflowid=workflow_id,
            data={"event": fired.model_dump(mode="json")},
        )
        encoded = self._serde.encode(envelope)
        await producer.send(
            self.names.coordinator_events,
            encoded.value,
            key=workflow_id.encode(),
            headers=encoded.headers,
        )
