"""The run as an artifact, as a user works with it: runs, trace, export, offline replay, check."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from longboat import KafkaSettings, Settings, TopicNames
from longboat.devinfra import free_port, is_running, provision_kafka, start_kafka, stop_process
from longboat.devinfra._kafka import KAFKA_MARKER
from tests.e2e.conftest import LONGBOAT, RunCli
from tests.integration.agents.conftest import AgentWorld, running
from tests.unit.agents.replay_agents import COUNTS, build

AGENTS = "tests.unit.agents.replay_agents"


def _offline(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with no broker to reach (a closed port): a replay must not need one."""
    dead = env | {"LONGBOAT_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:9"}
    return subprocess.run(
        [LONGBOAT, *args], env=dead, capture_output=True, text=True, timeout=60, check=False,
        cwd=os.getcwd(),
    )  # fmt: skip


def test_failed_run_is_listed_traced_exported_and_replayed_offline(
    run_cli: RunCli, cli_env: dict[str, str], unique: str, settings: Settings, tmp_path: Path
) -> None:
    """A ten-step run failing at step 10 is traced, exported and replayed with no broker."""
    names = TopicNames(f"e{unique}.")
    world = AgentWorld(settings, names, settings.kafka, f"in.{unique}", f"out.{unique}")
    buggy = build("tenstep", bug=True, topic=world.input_topic)

    async def record() -> None:
        await world.create("tenstep")
        await world.publish([("k-1", {"amount": 7})])
        async with running(buggy, world.agent_settings(instance="i1")):
            await world.read(names.dlq("tenstep"), 1)

    COUNTS.clear()
    asyncio.run(record())
    assert {f"s{n}": 1 for n in range(1, 11)} == COUNTS

    listed = run_cli("runs", "tenstep", "--json")
    assert listed.returncode == 0, listed.stderr
    runs = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["outcome"], r["steps"], r["offset"]) for r in runs] == [("dead_lettered", 10, 0)]
    rid = runs[0]["run_id"]
    assert run_cli("runs", "tenstep", "--status", "completed").stdout.startswith("no runs")

    shown = run_cli("trace", rid)
    assert shown.returncode == 0, shown.stderr
    assert " 10. s10  failed" in shown.stdout
    assert "bug in step 10" in shown.stdout
    as_json = json.loads(run_cli("trace", rid, "--json").stdout)
    assert as_json["header"]["event"]["data"] == {"amount": 7}
    assert [s["args"] for s in as_json["steps"]][3] == ["s4", 7]
    assert all(s["duration_ms"] is not None for s in as_json["steps"])

    saved = tmp_path / "traces"
    saved.mkdir()
    exported = run_cli("trace", "export", rid, "-o", str(saved / "run.jsonl"))
    assert exported.returncode == 0, exported.stderr

    stopped = _offline(cli_env, "replay", str(saved / "run.jsonl"), "--agent", f"{AGENTS}:fixed")
    assert stopped.returncode == 0, stopped.stderr
    assert "9 step(s) served from the trace, 0 run live" in stopped.stdout
    assert "next: step 10 s10 (it failed in the recording)" in stopped.stdout

    live = _offline(
        cli_env, "replay", str(saved / "run.jsonl"), "--agent", f"{AGENTS}:fixed", "--live"
    )
    assert live.returncode == 0, live.stderr
    assert "9 step(s) served from the trace, 1 run live" in live.stdout
    assert "outcome: completed" in live.stdout

    changed = _offline(cli_env, "replay", str(saved / "run.jsonl"), "--agent", f"{AGENTS}:changed")
    assert changed.returncode == 1, changed.stderr
    assert "DIVERGED at step 4" in changed.stdout
    assert "$[1]: 7 -> 21" in changed.stdout

    ok = _offline(cli_env, "replay", "--check", str(saved), "--agent", f"{AGENTS}:fixed")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = _offline(cli_env, "replay", "--check", str(saved), "--agent", f"{AGENTS}:changed")
    assert bad.returncode == 1
    assert "FAIL  run.jsonl  diverged at step 4" in bad.stdout


def test_replay_of_a_bad_file_is_one_line(run_cli: RunCli, tmp_path: Path) -> None:
    """A file that is not a trace is refused with its name and line, exit 2."""
    junk = tmp_path / "junk.jsonl"
    junk.write_text("{}\n")
    result = run_cli("replay", str(junk), "--agent", f"{AGENTS}:fixed")
    assert result.returncode == 2
    assert "junk.jsonl:1: not a trace line" in result.stderr
    assert "Traceback" not in result.stderr


def test_fork_cli_reuses_steps_and_links_both_traces(
    run_cli: RunCli, cli_env: dict[str, str], unique: str, settings: Settings, tmp_path: Path
) -> None:
    """`longboat fork` re-runs only step 10; each trace names the other; the fork replays clean."""
    names = TopicNames(f"e{unique}.")
    world = AgentWorld(settings, names, settings.kafka, f"in.{unique}", "replay.out")
    buggy = build("tenstep", bug=True, topic=world.input_topic)

    async def record() -> None:
        await world.create("tenstep")  # "replay.out" too: the fixed agent emits there
        await world.publish([("k-1", {"amount": 7})])
        async with running(buggy, world.agent_settings(instance="i1")):
            await world.read(names.dlq("tenstep"), 1)

    asyncio.run(record())
    listed = run_cli("runs", "tenstep", "--json")
    rid = json.loads(listed.stdout.splitlines()[0])["run_id"]

    forked = run_cli("fork", rid, "--agent", f"{AGENTS}:fixed", "--json")
    assert forked.returncode == 0, forked.stderr
    report = json.loads(forked.stdout)
    assert (report["from_step"], report["reused"], report["executed"]) == (10, 9, 1)
    assert report["outcome"] == "completed"

    parent = run_cli("trace", rid)
    assert f"forked as {report['fork_id']}" in parent.stdout
    child = run_cli("trace", report["fork_id"])
    assert f"forked from {rid} at step 10" in child.stdout
    assert "outcome   completed" in child.stdout
    assert " 10. s10  completed" in child.stdout

    parent_json = json.loads(run_cli("trace", rid, "--json").stdout)
    assert [(n["forked_as"], n["from_step"]) for n in parent_json["notes"]] == [
        (report["fork_id"], 10)
    ]
    child_json = json.loads(run_cli("trace", report["fork_id"], "--json").stdout)
    assert (child_json["header"]["forked_from"], child_json["header"]["fork_from_step"]) == (
        rid,
        10,
    )
    both = [json.loads(line) for line in run_cli("runs", "tenstep", "--json").stdout.splitlines()]
    assert {r["run_id"]: r["forked_from"] for r in both} == {rid: None, report["fork_id"]: rid}

    # The fork's own trace replays clean offline: its fresh key chain from step 10 is re-applied.
    saved = tmp_path / "forks"
    saved.mkdir()
    exported = run_cli("trace", "export", report["fork_id"], "-o", str(saved / "fork.jsonl"))
    assert exported.returncode == 0, exported.stderr
    replayed = _offline(cli_env, "replay", str(saved / "fork.jsonl"), "--agent", f"{AGENTS}:fixed")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "10 step(s) served from the trace, 0 run live" in replayed.stdout
    assert "no divergence" in replayed.stdout
    checked = _offline(cli_env, "replay", "--check", str(saved), "--agent", f"{AGENTS}:fixed")
    assert checked.returncode == 0, checked.stdout
    assert "ok    fork.jsonl  10 steps served, completed" in checked.stdout

    again = run_cli("fork", report["fork_id"], "--agent", f"{AGENTS}:fixed")
    assert again.returncode == 2
    assert f"is a fork of {rid}" in again.stderr


@pytest.fixture
def own_broker(infra_cache: Path, tmp_path: Path) -> Iterator[tuple[int, str]]:
    """A broker of this test alone (pid, address), so the test can stop it."""
    node = start_kafka(
        provision_kafka(infra_cache),
        tmp_path / "own-kafka",
        port=free_port(),
        controller_port=free_port(),
        heap="512m",
    )
    try:
        yield node.pid, node.bootstrap_servers
    finally:
        stop_process(node.pid, KAFKA_MARKER)


def test_an_exported_trace_replays_with_its_broker_stopped(
    cli_env: dict[str, str], own_broker: tuple[int, str], unique: str, tmp_path: Path
) -> None:
    """Record on a broker, export the trace, stop the broker process: the replay still runs."""
    pid, bootstrap = own_broker
    kafka = KafkaSettings(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    names = TopicNames(f"o{unique}.")
    settings = Settings(kafka=kafka, topic_prefix=names.prefix, dev_home=tmp_path / "home")
    world = AgentWorld(settings, names, kafka, f"in.{unique}", f"out.{unique}")
    buggy = build("tenstep", bug=True, topic=world.input_topic)

    async def record() -> None:
        await world.create("tenstep")
        await world.publish([("k-1", {"amount": 7})])
        async with running(buggy, world.agent_settings(instance="i1")):
            await world.read(names.dlq("tenstep"), 1)

    asyncio.run(record())
    env = cli_env | {"LONGBOAT_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
                     "LONGBOAT_TOPIC_PREFIX": names.prefix}  # fmt: skip

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [LONGBOAT, *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    listed = cli("runs", "tenstep", "--json")
    assert listed.returncode == 0, listed.stderr
    rid = json.loads(listed.stdout.splitlines()[0])["run_id"]
    trace = tmp_path / "run.jsonl"
    exported = cli("trace", "export", rid, "-o", str(trace))
    assert exported.returncode == 0, exported.stderr

    assert stop_process(pid, KAFKA_MARKER)
    assert not is_running(pid, KAFKA_MARKER)
    replayed = cli("replay", str(trace), "--agent", f"{AGENTS}:fixed", "--live")
    assert replayed.returncode == 0, replayed.stderr
    assert f"replayed run {rid} of tenstep" in replayed.stdout
    assert "9 step(s) served from the trace, 1 run live" in replayed.stdout
    assert "outcome: completed" in replayed.stdout
