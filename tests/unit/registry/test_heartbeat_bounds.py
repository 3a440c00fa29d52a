"""Heartbeat fields and instance lists stay bounded (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from longboat.registry._model import MAX_INSTANCES_PER_VERSION, InstanceInfo
from longboat.registry._store import HeartbeatInvalid, _keep_freshest, check_heartbeat

DIGEST = "sha256:" + "0f" * 32


@pytest.mark.parametrize("instance", ["pod-1", "claims-7d9f.node:2", "a" * 253])
def test_host_names_and_digests_pass(instance: str) -> None:
    """Host and pod names up to DNS length, with a sha256 digest or none, are accepted."""
    check_heartbeat(instance, DIGEST)
    check_heartbeat(instance, None)


@pytest.mark.parametrize(
    ("instance", "digest", "field"),
    [
        ("a" * 254, None, "instance"),
        ("pod 1", None, "instance"),
        ("", None, "instance"),
        ("-pod", None, "instance"),
        ("pod\u0430", None, "instance"),
        ("pod-1", "x" * 50_000, "code_digest"),
        ("pod-1", "sha256:" + "0F" * 32, "code_digest"),
        ("pod-1", "md5:abc", "code_digest"),
    ],
)
def test_out_of_bounds_refused_naming_the_field(
    instance: str, digest: str | None, field: str
) -> None:
    """Anything else is refused with a message naming the field."""
    with pytest.raises(HeartbeatInvalid, match=field):
        check_heartbeat(instance, digest)


def test_stalest_instances_are_evicted() -> None:
    """Past the cap, the instances with the oldest heartbeats are dropped."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    instances = {
        f"pod-{n}": InstanceInfo(
            instance=f"pod-{n}", started_at=start, last_heartbeat=start + timedelta(seconds=n)
        )
        for n in range(MAX_INSTANCES_PER_VERSION + 5)
    }
    kept = _keep_freshest(instances)
    assert len(kept) == MAX_INSTANCES_PER_VERSION
    assert set(kept) == {f"pod-{n}" for n in range(5, MAX_INSTANCES_PER_VERSION + 5)}
