"""Finding runs on a cluster: an agent's runs and their outcome, and one run's whole trace.

Where each fact lives (nothing here is stored twice):

- steps: the journal, ``lb.journal.<agent>`` (a run with no journalled step is not listed;
  agents with ``durability="exit"`` journal nothing);
- the input event: the input record itself, at the run's coordinates;
- completed: the group's committed offset is past the run's offset, or the offset's
  metadata lists it as done ahead (``_checkpoint_meta.py``);
- dead-lettered: a dead letter on ``lb.dlq.<agent>`` names the run id;
- in flight: journalled, neither of the above.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from longboat import EnvelopeSerde, KafkaSettings, TopicNames
from longboat.agents._checkpoint_meta import CheckpointMeta
from longboat.agents._dlq import DeadLetter, list_dead_letters
from longboat.agents._journal import JOURNAL_RECORDS, JournalRecord, RunHistory
from longboat.agents._trace import RunOutcome, Trace, TraceHeader, trace_steps
from longboat.errors import EventError, TopicError, UsageError
from longboat.kafka import Admin, ConsumedRecord, Consumer, TopicPartition, read_decoded

__all__ = ["RunSummary", "agent_group", "list_runs", "load_trace"]


def agent_group(names: TopicNames, agent: str) -> str:
    """The consumer group of ``agent`` (as ``Agent.group_id`` names it)."""
    return f"{names.prefix}agent.{agent}"


@dataclass
class _Journalled:
    """Every journal record of one run."""

    first: JournalRecord
    history: RunHistory = field(default_factory=RunHistory)
    started: datetime | None = None
    ended: datetime | None = None

    def add(self, record: JournalRecord, journal_offset: int) -> None:
        self.history.add(record, journal_offset)
        self.started = min(self.started or record.time, record.time)
        self.ended = max(self.ended or record.time, record.time)


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One run as ``longboat runs`` lists it."""

    run_id: str
    agent: str
    topic: str
    partition: int
    offset: int
    workflow_id: str | None
    outcome: RunOutcome
    steps: int
    started: datetime | None
    ended: datetime | None
    error: str | None


async def _journal(kafka: KafkaSettings, topic: str) -> dict[str, _Journalled]:
    runs: dict[str, _Journalled] = {}
    # read_uncommitted: journal records are never transactional (see _journal.py).
    async for item in read_decoded(
        kafka, topic, JOURNAL_RECORDS, isolation_level="read_uncommitted"
    ):
        record = item.value
        if record is None:
            continue
        runs.setdefault(record.run_id, _Journalled(record)).add(record, item.record.offset)
    return runs


async def _dead_letters(kafka: KafkaSettings, topic: str) -> dict[str, DeadLetter]:
    try:
        entries = await list_dead_letters(kafka, topic)
    except TopicError:
        return {}  # no dead letter was ever written
    return {e.letter.run_id: e.letter for e in entries if not e.replayed}


async def _committed(
    kafka: KafkaSettings, group: str, tps: Iterable[TopicPartition]
) -> dict[TopicPartition, tuple[int, CheckpointMeta]]:
    async with Admin(kafka) as admin:
        committed = await admin.committed(group, set(tps))
    return {
        tp: (c.offset, CheckpointMeta.decode(c.metadata, c.offset)) for tp, c in committed.items()
    }


def _outcome(
    run: _Journalled,
    dead: dict[str, DeadLetter],
    committed: dict[TopicPartition, tuple[int, CheckpointMeta]],
) -> RunOutcome:
    first = run.first
    if first.run_id in dead:
        return "dead_lettered"
    position = committed.get(TopicPartition(first.topic, first.partition))
    if position is not None and (
        first.offset < position[0] or first.offset in position[1].done_ahead
    ):
        return "completed"
    return "in_flight"


async def _summaries(kafka: KafkaSettings, names: TopicNames, agent: str) -> list[RunSummary]:
    runs = await _journal(kafka, names.journal(agent))
    dead = await _dead_letters(kafka, names.dlq(agent))
    tps = {TopicPartition(r.first.topic, r.first.partition) for r in runs.values()}
    committed = await _committed(kafka, agent_group(names, agent), tps) if tps else {}
    return [
        RunSummary(
            run_id=rid,
            agent=agent,
            topic=run.first.topic,
            partition=run.first.partition,
            offset=run.first.offset,
            workflow_id=run.first.workflow_id,
            outcome=_outcome(run, dead, committed),
            steps=len(run.history.steps),
            started=run.started,
            ended=run.ended,
            error=dead[rid].message if rid in dead else None,
        )
        for rid, run in runs.items()
    ]


async def list_runs(
    kafka: KafkaSettings,
    names: TopicNames,
    agent: str,
    *,
    status: RunOutcome | None = None,
    workflow_id: str | None = None,
    since: datetime | None = None,
) -> list[RunSummary]:
    """``agent``'s journalled runs, oldest first, filtered by outcome, workflow and start time.

    Raises:
        TopicError: The agent has no journal topic (it never ran, or the name is wrong).
    """
    found = await _summaries(kafka, names, agent)
    chosen = [
        run
        for run in found
        if (status is None or run.outcome == status)
        and (workflow_id is None or run.workflow_id == workflow_id)
        and (since is None or (run.started is not None and run.started >= since))
    ]
    return sorted(chosen, key=lambda r: (r.started is None, r.started, r.offset))


async def _input_record(
    kafka: KafkaSettings, tp: TopicPartition, offset: int
) -> ConsumedRecord | None:
    async with Consumer(kafka, max_poll_records=1) as reader:
        reader.assign([tp])
        end = (await reader.end_offsets([tp]))[tp]
        if offset >= end:
            return None
        reader.seek(tp, offset)
        while await reader.position(tp) <= offset and await reader.position(tp) < end:
            for raw in await reader.poll(timeout_ms=500):
                if raw.offset == offset:
                    return raw
                if raw.offset > offset:
                    return None  # deleted by retention or compaction
    return None


async def _journal_topics(kafka: KafkaSettings, names: TopicNames) -> list[str]:
    async with Admin(kafka) as admin:
        topics = await admin.list_topics()
    return sorted(t for t in topics if t.startswith(f"{names.prefix}journal."))


async def _find_run(
    kafka: KafkaSettings, names: TopicNames, run_id: str, agent: str | None
) -> tuple[str, _Journalled]:
    topics = [names.journal(agent)] if agent else await _journal_topics(kafka, names)
    for topic in topics:
        runs = await _journal(kafka, topic)
        if run_id in runs:
            return runs[run_id].first.agent, runs[run_id]
    raise UsageError(
        f"no run {run_id} in {', '.join(topics) or 'any journal topic'} "
        "(list runs with `longboat runs AGENT`)"
    )


async def load_trace(
    kafka: KafkaSettings, names: TopicNames, run_id: str, *, agent: str | None = None
) -> Trace:
    """The whole trace of run ``run_id`` (``agent`` narrows the search to one journal).

    Raises:
        UsageError: No journal holds the run.
    """
    name, run = await _find_run(kafka, names, run_id, agent)
    first = run.first
    tp = TopicPartition(first.topic, first.partition)
    dead = await _dead_letters(kafka, names.dlq(name))
    committed = await _committed(kafka, agent_group(names, name), [tp])
    raw = await _input_record(kafka, tp, first.offset)
    event = None
    if raw is not None:
        try:
            event = EnvelopeSerde().decode(raw.value, raw.headers)
        except EventError:
            event = None  # the run was dead-lettered as undecodable: nothing to replay
    header = TraceHeader(
        agent=name,
        version=first.version,
        run_id=run_id,
        group=agent_group(names, name),
        topic=first.topic,
        partition=first.partition,
        offset=first.offset,
        key=raw.key.decode(errors="replace") if raw and raw.key is not None else None,
        event=event,
        workflow_id=first.workflow_id,
        started=run.started,
        ended=run.ended,
        outcome=_outcome(run, dead, committed),
        error=dead[run_id].message if run_id in dead else None,
    )
    return Trace(header=header, steps=trace_steps(run.history))
