"""Registry changes and per-version fleet figures, as Mission Control derives them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from longboat.coordinator._console import version_row
from longboat.coordinator._console_api import InstanceRow
from longboat.coordinator._console_ops import registry_changes
from longboat.registry import (
    AgentKey,
    AgentRecord,
    InstanceCounters,
    InstanceInfo,
    VersionEntry,
    generate_key,
    key_id,
    public_key_b64,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _key() -> AgentKey:
    public = public_key_b64(generate_key())
    return AgentKey(kid=key_id(public), public_key=public, created_at=T0)


def _record(revision: int, **versions: VersionEntry) -> AgentRecord:
    return AgentRecord(
        agent_id="claims",
        versions=versions,
        updated_at=T0 + timedelta(seconds=revision),
        revision=revision,
    )


def test_enrolment_rotation_and_revocation_are_changes_and_heartbeats_are_not() -> None:
    """A new version is an enrolment, a new key a rotation, a new status a status change; a
    record that differs only in its instances (a heartbeat) changes nothing."""
    key = _key()
    v1 = VersionEntry(version="1", keys=(key,), enrolled_at=T0)
    first = _record(1, **{"1": v1})
    assert [(c.kind, c.version) for c in registry_changes(None, first)] == [("enrolled", "1")]
    beat = InstanceInfo(instance="pod-1", started_at=T0, last_heartbeat=T0)
    heartbeat = _record(2, **{"1": v1.model_copy(update={"instances": {"pod-1": beat}})})
    assert registry_changes(first, heartbeat) == []
    rotated = _record(3, **{"1": v1.model_copy(update={"keys": (key, _key())})})
    assert [c.kind for c in registry_changes(heartbeat, rotated)] == ["key_rotated"]
    revoked = _record(4, **{"1": rotated.versions["1"].model_copy(update={"status": "revoked"})})
    (change,) = registry_changes(rotated, revoked)
    assert (change.kind, change.detail) == ("status_changed", "active → revoked")
    assert [c.kind for c in registry_changes(revoked, None)] == ["removed"]


def test_a_first_record_past_revision_one_is_a_baseline_not_an_enrolment() -> None:
    """Earlier records were compacted away: nothing is claimed about when it was enrolled."""
    v1 = VersionEntry(version="1", keys=(_key(),), enrolled_at=T0)
    assert registry_changes(None, _record(7, **{"1": v1})) == []


def test_a_versions_rate_sums_live_instances_and_its_totals_sum_all() -> None:
    """A stale instance's last rate is not current throughput; its totals still count."""
    entry = VersionEntry(version="1", keys=(_key(),), enrolled_at=T0)

    def row(stale: bool, rate: float, errors: int) -> InstanceRow:
        counters = InstanceCounters(processed=10, errors=errors, dead_lettered=1)
        return InstanceRow(
            instance=f"pod-{stale}",
            last_heartbeat=T0,
            stale=stale,
            counters=counters,
            records_per_s=rate,
        )

    version = version_row(entry, [row(False, 2.5, 1), row(True, 9.0, 2)])
    assert (version.records_per_s, version.errors, version.dead_lettered) == (2.5, 3, 2)
    assert version_row(entry, []).records_per_s is None
