"""`longboat approve|reject|cancel|workflows resume` put signals on lb.signals (key: workflow)."""

from __future__ import annotations

import json

from tests.e2e.conftest import RunCli


def test_signals_reach_the_signals_topic(run_cli: RunCli, unique: str) -> None:
    """Each command writes one signal envelope with who decided and the note."""
    assert run_cli("topics", "create", "--partitions", "1").returncode == 0
    approved = run_cli("approve", "wf-1", "--note", "looks fine", "--by", "alice")
    assert approved.returncode == 0, approved.stderr
    assert "approve sent for wf-1 by alice" in approved.stdout
    assert run_cli("reject", "wf-2", "--by", "bob").returncode == 0
    assert run_cli("cancel", "wf-3").returncode == 0
    resumed = run_cli("workflows", "resume", "wf-4", "--from-step", "pay", "--version", "2")
    assert resumed.returncode == 0, resumed.stderr
    assert "resume sent for wf-4 from step pay on version 2" in resumed.stdout
    read = run_cli(
        "consume",
        f"e{unique}.signals",
        "--from-beginning",
        "--max",
        "4",
        "--timeout",
        "20",
        "--json",
    )
    events = [json.loads(line) for line in read.stdout.splitlines()]
    assert [(e["workflowid"], e["type"], e["data"]["signal"]) for e in events] == [
        ("wf-1", "longboat.signal", "approve"),
        ("wf-2", "longboat.signal", "reject"),
        ("wf-3", "longboat.signal", "cancel"),
        ("wf-4", "longboat.signal", "resume"),
    ]
    assert (events[3]["data"]["from_step"], events[3]["data"]["version"]) == ("pay", 2)
    assert events[0]["data"]["by"] == "alice"
    assert events[0]["data"]["note"] == "looks fine"
    assert events[2]["data"]["by"]  # the current user


def test_signal_to_a_missing_topic_is_a_clear_error(run_cli: RunCli) -> None:
    """Without the signals topic: one line saying how to create it, exit 2."""
    result = run_cli("approve", "wf-1")
    assert result.returncode == 2
    assert "longboat topics create" in result.stderr
