"""`longboat fleet up | status | logs | down` on the real broker, as a user runs them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import urllib.request
from pathlib import Path
from typing import Any

from longboat.devinfra import free_port
from longboat.fleet import FleetPaths, load_fleet, read_state
from longboat.registry import AgentRecord, RegistryClient
from tests.e2e.conftest import RunCli
from tests.helpers import assert_eventually_sync

REPO = Path(__file__).resolve().parents[2]

WORKFLOW = """\
name: fleet-check
version: 1
trigger: {{topic: {topic}, type: claims.submitted, workflow_id: "${{event.data.claim_id}}"}}
steps:
  - id: triage
    task: {{agent: triage, input: {{claim: "${{event.data}}"}}}}
  - id: coverage
    task: {{agent: coverage, input: {{policy: "${{event.data.policy}}"}}}}
"""

FLEET = """\
name: {name}
root: {root}
kafka: {{bootstrapServers: "{bootstrap}", topicPrefix: {prefix}, partitions: 2}}
topics: {{{topic}: 1, claims.submitted: 1, claims.triaged: 1}}
registry: {{port: {registry}}}
gateway: {{port: {gateway}, opa: {{port: {opa}}}}}
coordinator: {{port: {coordinator}}}
policies: policies
workflows: [{workflows}]
agents:
  - {{name: triage, module: "examples.claims.triage:agent", version: "1.0",
     capabilities: ["memory:claims"], owner: claims-team, riskTier: high}}
  - {{name: coverage, module: "examples.claims.specialists:coverage", version: "2.0",
     owner: claims-team}}
  - {{name: coverage, module: "examples.claims.specialists:coverage", version: "2.1",
     status: canary}}
"""


def _status(run_cli: RunCli, file: Path) -> dict[str, dict[str, Any]]:
    result = run_cli("fleet", "status", "-f", str(file), "--json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    return {row["instance"]: row for row in rows}


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


async def _record(url: str, agent: str) -> AgentRecord:
    async with RegistryClient(url) as registry:
        return await registry.get(agent)


def _workflows(url: str, token: str) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        f"{url}/v1/workflows", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        body: dict[str, list[dict[str, Any]]] = json.loads(response.read())
    return body["workflows"]


def test_fleet_up_status_restart_and_down(
    run_cli: RunCli, cli_env: dict[str, str], kafka_bootstrap: str, unique: str, tmp_path: Path
) -> None:
    """A fleet (with a canary) starts healthy, runs a workflow, restarts an agent, stops clean."""
    topic = f"f{unique}.claims"
    (tmp_path / "workflow.yaml").write_text(WORKFLOW.format(topic=topic))
    file = tmp_path / "fleet.yaml"
    file.write_text(
        FLEET.format(
            name=f"f{unique}",
            root=REPO,
            bootstrap=kafka_bootstrap,
            prefix=f"f{unique}.",
            topic=topic,
            registry=free_port(),
            gateway=free_port(),
            opa=free_port(),
            coordinator=free_port(),
            workflows=tmp_path / "workflow.yaml",
        )
    )
    up = run_cli("fleet", "up", "-f", str(file), "--detach", timeout=400)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "ready" in up.stdout
        _check_running_fleet(run_cli, cli_env, file, topic)
    finally:
        running = run_cli("fleet", "status", "-f", str(file)).returncode == 0
        rows = _status(run_cli, file) if running else {}
        down = run_cli("fleet", "down", "-f", str(file), timeout=120)
    assert down.returncode == 0, down.stderr
    pids = [row["pid"] for row in rows.values() if row["pid"]]
    assert len(pids) == 7  # opa, registry, gateway, coordinator, two agents and a canary
    assert not [pid for pid in pids if _alive(pid)]
    assert "not running" in run_cli("fleet", "down", "-f", str(file)).stdout


def _check_running_fleet(run_cli: RunCli, cli_env: dict[str, str], file: Path, topic: str) -> None:
    rows = assert_eventually_sync(
        lambda: _status(run_cli, file),
        lambda r: (
            all(x["health"] == "ready" for x in r.values())
            and r["triage-0"]["last_heartbeat"] is not None
            and r["coverage-0"]["last_heartbeat"] is not None
            and r["coverage-canary-0"]["last_heartbeat"] is not None
        ),
        timeout_s=90,
        what="every process ready with heartbeats",
    )
    assert set(rows) == {
        "opa-0",
        "registry-0",
        "gateway-0",
        "coordinator-0",
        "triage-0",
        "coverage-0",
        "coverage-canary-0",
    }
    versions = {name: rows[name]["version"] for name in ("triage-0", "coverage-0")}
    assert versions == {"triage-0": "1.0", "coverage-0": "2.0"}
    assert rows["coverage-canary-0"]["version"] == "2.1"
    table = run_cli("fleet", "status", "-f", str(file)).stdout
    assert "HEARTBEAT" in table
    assert "coordinator-0" in table

    published = run_cli(
        "publish",
        topic,
        "--data",
        '{"claim_id": "c-1", "amount": 10, "policy": "P"}',
        "--type",
        "claims.submitted",
        "--key",
        "c-1",
    )
    assert published.returncode == 0, published.stderr
    paths = FleetPaths(Path(cli_env["LONGBOAT_DEV_HOME"]), load_fleet(file).name)
    state = read_state(paths)
    assert state is not None
    token = paths.operator_token.read_text().strip()  # Mission Control's operator token
    # Both versions are enrolled under the one agent, the canary's with status canary.
    coverage = asyncio.run(_record(state.registry_url, "coverage"))
    assert {v: e.status for v, e in coverage.versions.items()} == {"2.0": "active", "2.1": "canary"}
    coordinator = state.coordinator_url
    done = assert_eventually_sync(
        lambda: [w for w in _workflows(coordinator, token) if w["workflow_id"] == "c-1"],
        lambda found: bool(found) and found[0]["status"] == "completed",
        timeout_s=90,
        what="the workflow completed through the fleet's agents",
    )
    assert done[0]["definition"] == "fleet-check"

    killed = rows["triage-0"]["pid"]
    os.kill(killed, signal.SIGKILL)
    restarted = assert_eventually_sync(
        lambda: _status(run_cli, file)["triage-0"],
        lambda r: r["restarts"] >= 1 and r["status"] == "running" and r["pid"] != killed,
        timeout_s=90,
        what="the supervisor restarted the killed agent",
    )
    assert restarted["health"] == "ready"
    logs = run_cli("fleet", "logs", "triage", "-f", str(file), "-n", "5")
    assert logs.returncode == 0
    assert "triage-0" in logs.stdout


def test_a_bad_fleet_file_is_refused(run_cli: RunCli, tmp_path: Path) -> None:
    """`fleet up` with a bad file: exit 2, the file, field and fix, no traceback, nothing runs."""
    bad = tmp_path / "fleet.yaml"
    bad.write_text("name: bad\nagents: [{name: t, module: nocolon, version: '1'}]\n")
    result = run_cli("fleet", "up", "-f", str(bad))
    assert result.returncode == 2
    assert f"{bad}: agents.0.module:" in result.stderr
    assert "—" in result.stderr
    assert "Traceback" not in result.stderr
