"""Forks without a broker: fingerprints before and from step N, refusals, recovery isolation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from longboat.agents import AgentSettings, fork_run
from longboat.agents._journal import JOURNAL_RECORDS, JournalRecord, RunHistory, _collect
from longboat.agents._trace import Trace
from longboat.errors import UsageError
from longboat.kafka import ConsumedRecord, TopicPartition
from tests.unit.agents.test_replay import _recorded


def _journal_record(**fields: object) -> ConsumedRecord:
    record = JournalRecord.model_validate(
        {
            "state": "completed",
            "agent": "a",
            "run_id": "r",
            "topic": "in",
            "partition": 0,
            "offset": 5,
            "index": 0,
            "name": "s1",
            "fp": "f",
            "time": datetime(2025, 1, 1, tzinfo=UTC),
            **fields,
        }
    )
    return ConsumedRecord("j", 0, 0, record.key, JOURNAL_RECORDS.encode(record), (), 0)


def test_group_recovery_ignores_a_forks_journal_records() -> None:
    """A fork's steps share the input's coordinates but never join the group's run history."""
    histories: dict[int, RunHistory] = {}
    _collect(_journal_record(), TopicPartition("in", 0), 0, histories)
    _collect(
        _journal_record(run_id="fork", forked_from="r", fp="g"),
        TopicPartition("in", 0),
        0,
        histories,
    )
    assert [r.fp for r in histories[5].steps.values()] == ["f"]


async def test_a_fork_of_a_fork_or_an_in_flight_run_is_refused() -> None:
    """Forking a fork, a run still in flight, or from a step out of range is a usage error."""
    from tests.unit.agents.replay_agents import build

    trace = await _recorded(bug=True)
    settings = AgentSettings()
    header = trace.header
    cases = [
        (header.model_copy(update={"forked_from": "p"}), None, "is a fork of p"),
        (header.model_copy(update={"outcome": "in_flight"}), None, "still in flight"),
        (header, 12, "--from-step 12"),
    ]
    for bad, step, message in cases:
        with pytest.raises(UsageError, match=message):
            await fork_run(
                build("replayed"), Trace(header=bad, steps=trace.steps), settings=settings,
                from_step=step,
            )  # fmt: skip
