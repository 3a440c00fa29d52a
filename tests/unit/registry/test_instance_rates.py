"""Records per second from the totals that heartbeats carry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from longboat.registry import InstanceCounters, InstanceInfo
from longboat.registry._store import records_per_s

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _seen(processed: int | None, at: datetime = T0) -> InstanceInfo:
    counters = None if processed is None else InstanceCounters(processed=processed)
    return InstanceInfo(instance="pod-1", started_at=T0, last_heartbeat=at, counters=counters)


def test_the_rate_is_the_records_finished_between_two_heartbeats_per_second() -> None:
    """30 more records over 10 s of heartbeats is 3 records per second."""
    later = T0 + timedelta(seconds=10)
    assert records_per_s(_seen(100), InstanceCounters(processed=130), later) == 3.0


def test_no_rate_without_a_previous_total_or_after_a_restart() -> None:
    """The first heartbeat, an agent that sends no totals, or totals that went down
    (the process restarted) give no rate rather than a wrong one."""
    later = T0 + timedelta(seconds=5)
    assert records_per_s(None, InstanceCounters(processed=5), later) is None
    assert records_per_s(_seen(None), InstanceCounters(processed=5), later) is None
    assert records_per_s(_seen(5), None, later) is None
    assert records_per_s(_seen(50), InstanceCounters(processed=2), later) is None
    assert records_per_s(_seen(5), InstanceCounters(processed=9), T0) is None
