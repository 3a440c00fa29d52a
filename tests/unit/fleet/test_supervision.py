"""Supervision rules without processes: backoff, giving up, and the coordinator's folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from longboat.errors import ConfigError
from longboat.fleet import parse_fleet
from longboat.fleet._children import Child, ChildSpec, RestartPolicy
from longboat.fleet._workflows import definitions_folder


def _child(policy: RestartPolicy) -> Child:
    spec = ChildSpec(
        component="agent",
        instance="t-0",
        argv=("true",),
        env={},
        cwd=Path(),
        log=Path("t.log"),
        port=1,
        health_url="http://127.0.0.1:1/readyz",
        version="1",
    )
    return Child(spec, policy=policy)


def test_backoff_doubles_up_to_the_cap() -> None:
    """0.5 s, 1 s, 2 s, ... never above the cap."""
    policy = RestartPolicy(initial_s=0.5, max_s=3)
    assert [policy.delay_s(n) for n in range(5)] == [0.5, 1, 2, 3, 3]


def test_a_child_that_crashes_too_often_is_marked_failed() -> None:
    """Restarts are scheduled and counted until the window holds max_restarts, then failed."""
    child = _child(RestartPolicy(initial_s=1, max_restarts=2, window_s=60))
    child.schedule_restart(100.0)
    assert (child.status, child.restarts, child.next_start) == ("restarting", 1, 101.0)
    assert child.due(101.0)
    assert not child.due(100.5)
    child.schedule_restart(110.0)
    assert (child.status, child.restarts) == ("restarting", 2)
    child.schedule_restart(120.0)
    assert child.status == "failed"
    assert child.next_start is None


def test_old_crashes_leave_the_window() -> None:
    """A crash long after the last ones starts the count again."""
    child = _child(RestartPolicy(initial_s=1, max_restarts=2, window_s=60))
    child.schedule_restart(0.0)
    child.schedule_restart(10.0)
    child.schedule_restart(500.0)
    assert child.status == "restarting"
    assert child.restarts == 3


def test_definitions_folder(tmp_path: Path) -> None:
    """One folder is used as is; files and several folders are linked into one folder."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.yaml").write_text("name: x\n")
    (tmp_path / "y.yaml").write_text("name: y\n")
    one = parse_fleet("name: f\nworkflows: [a]\n")
    assert definitions_folder(one, tmp_path, tmp_path / "s") == tmp_path / "a"
    both = parse_fleet("name: f\nworkflows: [a, y.yaml]\n")
    folder = definitions_folder(both, tmp_path, tmp_path / "s")
    assert sorted(p.name for p in folder.iterdir()) == ["00-x.yaml", "01-y.yaml"]
    missing = parse_fleet("name: f\nworkflows: [nope]\n")
    with pytest.raises(ConfigError, match="workflows: nope does not exist"):
        definitions_folder(missing, tmp_path, tmp_path / "s")
