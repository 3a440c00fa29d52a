"""`longboat run coordinator` refuses bad definitions; `inbox`/`workflows`/`history` talk to it."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from longboat.devinfra import free_port
from tests.e2e.conftest import LONGBOAT, RunCli
from tests.helpers import assert_eventually_sync

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "claims" / "workflows"


def test_bad_definition_stops_the_start(cli_env: dict[str, str], tmp_path: Path) -> None:
    """A broken workflow file: one line with the file and field, exit 2, no traceback."""
    (tmp_path / "bad.yaml").write_text(
        "name: x\nversion: 1\ntrigger: {topic: t, type: e}\nsteps: []\n"
    )
    result = subprocess.run(
        [LONGBOAT, "run", "coordinator", "--definitions", str(tmp_path)],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert f"{tmp_path / 'bad.yaml'}: steps" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def coordinator_url(run_cli: RunCli, cli_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """A coordinator process with the example definition."""
    created = run_cli(
        "topics",
        "create",
        "--partitions",
        "1",
        "--topic",
        "claims.submitted:1",
        "--agent",
        "triage",
    )  # the coordinator's own topics are system topics: no --agent coordinator needed
    assert created.returncode == 0, created.stderr
    port = free_port()
    log = (tmp_path / "coordinator.log").open("wb")
    # Mission Control needs an operator token; the CLI sends the same one.
    cli_env["LONGBOAT_OPERATOR_TOKEN"] = "e2e-operator-token-0123456789"
    process = subprocess.Popen(
        [LONGBOAT, "run", "coordinator", "--definitions", str(EXAMPLES), "--port", str(port)],
        env=cli_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    cli_env["LONGBOAT_COORDINATOR_URL"] = url

    def ready() -> int:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                return int(response.status)
        except OSError:
            return 0

    try:
        assert_eventually_sync(ready, lambda s: s == 200, timeout_s=60, what="coordinator ready")
        yield url
    finally:
        process.terminate()
        assert process.wait(timeout=60) == 0


def test_a_workflow_shows_in_inbox_workflows_and_history(
    run_cli: RunCli, coordinator_url: str
) -> None:
    """A published claim starts a workflow: listed, with history; cancel ends it."""
    published = run_cli(
        "publish",
        "claims.submitted",
        "--data",
        '{"claim_id": "c-42", "amount": 10, "policy": "P"}',
        "--type",
        "claims.submitted",
        "--key",
        "c-42",
    )
    assert published.returncode == 0, published.stderr
    listed = assert_eventually_sync(
        lambda: [json.loads(line) for line in run_cli("workflows", "--json").stdout.splitlines()],
        lambda items: any(i["workflow_id"] == "c-42" for i in items),
        timeout_s=60,
        what="workflow listed",
    )
    assert next(i for i in listed if i["workflow_id"] == "c-42")["definition"] == "claim-intake"
    history = assert_eventually_sync(
        lambda: run_cli("history", "c-42").stdout,
        lambda out: "TaskDispatched" in out,
        what="history",
    )
    assert "WorkflowStarted" in history
    assert run_cli("cancel", "c-42", "--note", "test").returncode == 0
    assert_eventually_sync(
        lambda: run_cli("workflows", "--status", "cancelled").stdout,
        lambda out: "c-42" in out,
        timeout_s=60,
        what="cancelled",
    )
    inbox = json.loads(run_cli("inbox", "--json").stdout)
    assert [w["workflow_id"] for w in inbox["completed"]] == ["c-42"]
    assert "Needs your input (0)" in run_cli("inbox").stdout
