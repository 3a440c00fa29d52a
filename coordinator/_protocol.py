"""The coordinator's own messages on Kafka: signals, coordinator events and history entries.

Each is one typed model with one serde (``*_event`` writes the envelope, ``*_of`` reads it
back), used by every writer and reader. Tasks, task results and task failures belong to the
agents layer (``longboat.agents``: :class:`~longboat.agents.Task`, ...), which is below us.

- :class:`SignalData` on ``lb.signals``: written by ``longboat approve|reject|cancel``,
  ``longboat workflows resume`` and the Mission Control API, read by the router.
- :class:`CoordinatorEvent` on ``lb.coordinator.events``: written by the router and the timer
  loop, read by the core.
- :class:`HistoryEntry` on ``lb.workflows.history``: written by the core, read by
  ``longboat history``, the API and audits.
"""

from __future__ import annotations

from typing import Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from longboat import Envelope, describe_errors
from longboat.coordinator._machine import HistoryEntry
from longboat.coordinator._resume import AnyEvent
from longboat.errors import EventError

__all__ = [
    "COORDINATOR_EVENT_TYPE",
    "HISTORY_TYPE",
    "SIGNAL_TYPE",
    "CoordinatorEvent",
    "SignalData",
    "coordinator_event",
    "coordinator_event_of",
    "history_entry_of",
    "history_event",
    "signal_event",
    "signal_of",
]

SIGNAL_TYPE: Final = "longboat.signal"
HISTORY_TYPE: Final = "longboat.workflow.history"
COORDINATOR_EVENT_TYPE: Final = "longboat.coordinator.event"
_SOURCE = "longboat/coordinator"


class SignalData(BaseModel):
    """The data of a signal on ``lb.signals``: a human's (or system's) decision.

    ``resume`` (a failed or cancelled workflow, from ``from_step``, on definition ``version`` or
    its own) is the only signal with a step and a version.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    signal: Literal["approve", "reject", "cancel", "resume"]
    by: str
    note: str | None = None
    from_step: str | None = Field(default=None, min_length=1)
    version: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _resume_fields(self) -> Self:
        if self.signal == "resume" and self.from_step is None:
            raise ValueError("a resume signal needs from_step: the step to resume from")
        if self.signal != "resume" and (self.from_step is not None or self.version is not None):
            raise ValueError(f"a {self.signal} signal takes no from_step or version")
        return self


class CoordinatorEvent(BaseModel):
    """The data of a record on ``lb.coordinator.events``: one state-machine event.

    ``definition`` and ``version`` are set on a workflow's start only: later events apply to the
    version the workflow runs on, which its state remembers (a resume may change it; the
    version it asks for is in the event).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event: AnyEvent
    definition: str | None = None
    version: int | None = None


def signal_event(workflow_id: str, data: SignalData, *, source: str = "longboat-cli") -> Envelope:
    """A signal envelope for ``lb.signals`` (key it by the workflow id)."""
    return Envelope(
        type=SIGNAL_TYPE, source=source, workflowid=workflow_id, data=data.model_dump(mode="json")
    )


def signal_of(event: Envelope) -> tuple[str, SignalData] | None:
    """The workflow id and signal ``event`` carries, or None when it is not a signal.

    Raises:
        EventError: A signal without a workflow id, or with invalid data.
    """
    if event.type != SIGNAL_TYPE:
        return None
    if not event.workflowid:
        raise EventError(f"signal {event.id}: no workflowid")
    try:
        return event.workflowid, SignalData.model_validate(event.data)
    except ValidationError as e:
        raise EventError(f"signal {event.id}: {describe_errors(e)}") from e


def coordinator_event(
    workflow_id: str,
    body: CoordinatorEvent,
    *,
    source: str = _SOURCE,
    causationid: str | None = None,
) -> Envelope:
    """A coordinator event envelope for ``lb.coordinator.events`` (key it by workflow id)."""
    return Envelope(
        type=COORDINATOR_EVENT_TYPE,
        source=source,
        workflowid=workflow_id,
        causationid=causationid,
        data=body.model_dump(mode="json"),
    )


def coordinator_event_of(event: Envelope) -> tuple[str, CoordinatorEvent]:
    """The workflow id and coordinator event ``event`` carries.

    Raises:
        EventError: It is not a coordinator event, has no workflow id, or invalid data.
    """
    if event.type != COORDINATOR_EVENT_TYPE or not event.workflowid:
        raise EventError(
            f"event {event.id}: expected a {COORDINATOR_EVENT_TYPE} with a workflowid, "
            f"got type {event.type!r}"
        )
    try:
        return event.workflowid, CoordinatorEvent.model_validate(event.data)
    except ValidationError as e:
        raise EventError(f"coordinator event {event.id}: {describe_errors(e)}") from e


def history_event(workflow_id: str, entry: HistoryEntry) -> Envelope:
    """A history envelope for ``lb.workflows.history`` (subject: the entry's type)."""
    return Envelope(
        type=HISTORY_TYPE,
        source=_SOURCE,
        workflowid=workflow_id,
        subject=entry.type,
        data=entry.model_dump(mode="json"),
    )


def history_entry_of(event: Envelope) -> HistoryEntry | None:
    """The history entry ``event`` carries, or None when it is not one.

    Raises:
        EventError: The type says history but the data is not an entry.
    """
    if event.type != HISTORY_TYPE:
        return None
    try:
        return HistoryEntry.model_validate(event.data)
    except ValidationError as e:
        raise EventError(f"history entry {event.id}: {describe_errors(e)}") from e
