"""`longboat topics create`, `publish` and `consume` against the real broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from longboat import TopicNames
from tests.e2e.conftest import RunCli


def test_topics_create_is_idempotent(run_cli: RunCli, unique: str) -> None:
    """The first run creates every system topic, the second finds them all."""
    first = run_cli(
        "topics", "create", "--partitions", "1", "--agent", "triage", "--topic", f"in-{unique}:3"
    )
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    names = TopicNames(f"e{unique}.")
    expected = {
        spec.name
        for spec in [
            *names.system_topics(),
            *names.coordinator_topics(),
            *names.agent_topics("triage"),
        ]
    } | {f"in-{unique}"}
    assert {line.split()[1] for line in lines} == expected
    assert len(lines) == len(expected)
    assert all(line.startswith("created") for line in lines)
    assert f"e{unique}.journal.triage" in first.stdout
    # The coordinator's own topics come with the system topics: its two agents' journals and DLQs.
    assert f"e{unique}.journal.coordinator-router" in first.stdout
    assert f"e{unique}.dlq.coordinator" in first.stdout
    assert f"in-{unique}" in lines[-1]
    assert "partitions=3" in lines[-1]
    bad = run_cli("topics", "create", "--topic", "no spaces allowed")
    assert bad.returncode == 2
    assert "--topic 'no spaces allowed'" in bad.stderr
    second = run_cli("topics", "create", "--partitions", "1")
    assert second.returncode == 0, second.stderr
    assert all(line.startswith("exists") for line in second.stdout.splitlines())


def test_publish_then_consume_json(run_cli: RunCli, unique: str, tmp_path: Path) -> None:
    """Published data comes back wrapped in an envelope with the printed id, type and key."""
    assert run_cli("topics", "create", "--partitions", "1").returncode == 0
    topic = f"e{unique}.signals"
    data = tmp_path / "claim.json"
    data.write_text(json.dumps({"claim": 7, "amount": 120.5}))
    published = run_cli(
        "publish",
        topic,
        "--data",
        f"@{data}",
        "--key",
        "claim-7",
        "--type",
        "claims.submitted",
        "--source",
        "/tests",
        "--workflow-id",
        "wf-7",
    )
    assert published.returncode == 0, published.stderr
    event_id = published.stdout.strip()
    second = run_cli("publish", topic, "--data", '"two"')
    assert second.returncode == 0, second.stderr

    consumed = run_cli(
        "consume", topic, "--from-beginning", "--max", "2", "--timeout", "20", "--json"
    )
    assert consumed.returncode == 0, consumed.stderr
    events = [json.loads(line) for line in consumed.stdout.splitlines()]
    assert len(events) == 2
    assert events[0]["id"] == event_id
    assert events[0]["type"] == "claims.submitted"
    assert events[0]["source"] == "/tests"
    assert events[0]["workflowid"] == "wf-7"
    assert events[0]["data"] == {"claim": 7, "amount": 120.5}
    assert events[1]["data"] == "two"

    plain = run_cli("consume", topic, "--from-beginning", "--max", "1", "--timeout", "20")
    assert plain.returncode == 0
    assert event_id in plain.stdout
    assert "claims.submitted" in plain.stdout


def test_consume_stops_after_idle_timeout(run_cli: RunCli, unique: str) -> None:
    """--timeout ends an idle consume with exit 0 and no output."""
    assert run_cli("topics", "create", "--partitions", "1").returncode == 0
    result = run_cli("consume", f"e{unique}.progress", "--from-beginning", "--timeout", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("--data", "{not json"), "--data is not valid JSON"),
        (("--data", "@/no/such/file.json"), "cannot read it"),
        (("--data", "1", "--type", ""), "type"),
    ],
)
def test_publish_bad_input_is_one_line_exit_2(
    run_cli: RunCli, unique: str, args: tuple[str, ...], reason: str
) -> None:
    """Bad --data or attributes: exit 2, one line naming the problem, no traceback."""
    result = run_cli("publish", f"e{unique}.signals", *args)
    assert result.returncode == 2
    assert reason in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_publish_oversize_event_is_refused(run_cli: RunCli, unique: str, tmp_path: Path) -> None:
    """An event over the size limit is refused before it reaches the broker."""
    big = tmp_path / "big.json"
    big.write_text(json.dumps("x" * 2_000_000))
    result = run_cli("publish", f"e{unique}.signals", "--data", f"@{big}")
    assert result.returncode == 2
    assert "over the limit" in result.stderr
    assert "LONGBOAT_MAX_EVENT_BYTES" in result.stderr


def test_unknown_topic_and_unknown_broker_are_clear_errors(
    run_cli: RunCli, cli_env: dict[str, str], unique: str
) -> None:
    """A missing topic says how to create it; an unreachable broker names the address."""
    missing = run_cli("publish", f"e{unique}.nothing", "--data", "1")
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr
    assert "longboat topics create" in missing.stderr
    cli_env["LONGBOAT_KAFKA__BOOTSTRAP_SERVERS"] = "127.0.0.1:1"
    dead = run_cli("consume", "anything", "--timeout", "1")
    assert dead.returncode == 2
    assert "no Kafka broker answered at 127.0.0.1:1" in dead.stderr
    assert "Traceback" not in dead.stderr
    assert len(dead.stderr.strip().splitlines()) == 1
