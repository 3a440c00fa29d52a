"""A run as an artifact: its header (input event, coordinates, outcome) and its steps.

A trace is built from the run's journal records (``lb.journal.<agent>``), its input record and
its dead letter, and written as JSON Lines: one ``header`` line, then one ``step`` line per
step, then any ``note`` lines (e.g. "forked as ..."). The file is self-contained (the input
event is in the header) and append-only (a later note never rewrites an earlier line), so it
can be copied off a cluster and replayed with no broker (``longboat replay run.jsonl``).

Steps are numbered from 1, in the order the handler awaited them (journal index + 1).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter, ValidationError

from longboat import Envelope
from longboat.agents._journal import JournalRecord, RunHistory
from longboat.errors import UsageError

__all__ = [
    "RunOutcome",
    "Trace",
    "TraceHeader",
    "TraceNote",
    "TraceStep",
    "read_trace",
    "trace_steps",
    "write_trace",
]

RunOutcome = Literal["completed", "dead_lettered", "in_flight"]
StepStatus = Literal["completed", "failed", "started"]
LLM_STEP = "longboat.llm"


class TraceHeader(BaseModel):
    """Which run this is, what it was given and how it ended."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["header"] = "header"
    v: Literal[1] = 1
    agent: str
    version: str | None = None
    run_id: str
    group: str
    topic: str
    partition: int
    offset: int
    key: str | None = None  # the input record's key, UTF-8 (replacement characters if not)
    event: Envelope | None = None  # None only when the input record was no longer on its topic
    workflow_id: str | None = None
    started: datetime | None = None
    ended: datetime | None = None
    outcome: RunOutcome
    error: str | None = None  # the dead letter's reason
    forked_from: str | None = None  # the parent run's id, for a fork
    fork_from_step: int | None = None


class TraceStep(BaseModel):
    """One step: what was called, with what, and how it ended."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["step"] = "step"
    index: int
    name: str
    fingerprint: str
    args: JsonValue = None
    args_recorded: bool = True
    result: JsonValue = None
    error: str | None = None
    status: StepStatus
    attempts: int = 1
    duration_ms: float | None = None
    tokens: int | None = None
    decision_id: str | None = None


class TraceNote(BaseModel):
    """Something learnt about the run later, e.g. that it was forked."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["note"] = "note"
    time: datetime
    forked_as: str | None = None
    from_step: int | None = None
    text: str | None = None


_Line = Annotated[TraceHeader | TraceStep | TraceNote, Field(discriminator="kind")]
_LINE: TypeAdapter[TraceHeader | TraceStep | TraceNote] = TypeAdapter(_Line)


class Trace(BaseModel):
    """A whole run: header, steps in order, notes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    header: TraceHeader
    steps: tuple[TraceStep, ...] = ()
    notes: tuple[TraceNote, ...] = ()

    @property
    def forks(self) -> list[str]:
        """The run ids of the forks of this run."""
        return [n.forked_as for n in self.notes if n.forked_as]

    def history(self) -> RunHistory:
        """The steps as the runtime's journal history (what a replay serves results from)."""
        history = RunHistory()
        h = self.header
        for n, step in enumerate(self.steps):
            record = JournalRecord(
                state=step.status,
                agent=h.agent,
                run_id=h.run_id,
                topic=h.topic,
                partition=h.partition,
                offset=h.offset,
                index=step.index - 1,
                name=step.name,
                fp=step.fingerprint,
                result=step.result,
                error=step.error,
                attempt=step.attempts,
                time=h.started or datetime(1970, 1, 1, tzinfo=UTC),
            )
            history.add(record, n)
        return history


def trace_steps(history: RunHistory) -> tuple[TraceStep, ...]:
    """The trace steps of a run's journal history, in order."""
    return tuple(_step(history.steps[i]) for i in sorted(history.steps))


def _step(record: JournalRecord) -> TraceStep:
    args: JsonValue = None
    if record.args is not None:
        args = json.loads(record.args)
    return TraceStep(
        index=record.index + 1,
        name=record.name,
        fingerprint=record.fp,
        args=args,
        args_recorded=record.args is not None,
        result=record.result,
        error=record.error,
        status=record.state,
        attempts=record.attempt,
        duration_ms=record.duration_ms,
        tokens=_tokens(record),
        decision_id=record.decision_id,
    )


def _tokens(record: JournalRecord) -> int | None:
    if record.name != LLM_STEP or not isinstance(record.result, dict):
        return None
    total = 0
    for field in ("prompt_tokens", "completion_tokens"):
        value = record.result.get(field)
        total += value if isinstance(value, int) else 0
    return total


def write_trace(trace: Trace, path: Path) -> None:
    """Write ``trace`` as JSON Lines (header, steps, notes), replacing ``path``."""
    lines: Iterable[BaseModel] = (trace.header, *trace.steps, *trace.notes)
    path.write_text("".join(line.model_dump_json(exclude_none=True) + "\n" for line in lines))


def read_trace(path: Path) -> Trace:
    """Read a trace file written by :func:`write_trace` (notes may have been appended).

    Raises:
        UsageError: The file is missing, not JSON Lines, or not a trace (the line is named).
    """
    try:
        text = path.read_text()
    except OSError as e:
        raise UsageError(f"{path}: cannot read the trace: {e.strerror or e}") from e
    parsed: list[TraceHeader | TraceStep | TraceNote] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            parsed.append(_LINE.validate_json(line))
        except ValidationError as e:
            problem = e.errors()[0]
            where = ".".join(str(p) for p in problem["loc"]) or "line"
            raise UsageError(
                f"{path}:{number}: not a trace line ({where}: {problem['msg']}); "
                "write traces with `longboat trace export RUN_ID -o FILE`"
            ) from e
    headers = [p for p in parsed if isinstance(p, TraceHeader)]
    if len(headers) != 1 or not isinstance(parsed[0], TraceHeader):
        raise UsageError(f"{path}: a trace starts with exactly one header line")
    steps = sorted((p for p in parsed if isinstance(p, TraceStep)), key=lambda s: s.index)
    notes = [p for p in parsed if isinstance(p, TraceNote)]
    return Trace(header=headers[0], steps=tuple(steps), notes=tuple(notes))
