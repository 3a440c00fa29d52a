"""`longboat run registry` and `longboat agents ...` as an operator uses them."""

from __future__ import annotations

import json
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from longboat.devinfra import free_port
from tests.e2e.conftest import LONGBOAT, RunCli
from tests.helpers import assert_eventually_sync

OPERATOR = "e2e-operator-token-0123456789abcdef"


@pytest.fixture
def registry_url(run_cli: RunCli, cli_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """A registry service process on a free port (its topics created first)."""
    assert run_cli("topics", "create", "--partitions", "1").returncode == 0
    port = free_port()
    env = {**cli_env, "LONGBOAT_OPERATOR_TOKEN": OPERATOR}
    log = (tmp_path / "registry.log").open("wb")
    process = subprocess.Popen(
        [LONGBOAT, "run", "registry", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    cli_env["LONGBOAT_REGISTRY_URL"] = url
    try:
        assert_eventually_sync(
            lambda: run_cli("agents").returncode,
            lambda rc: rc == 0,
            timeout_s=60,
            what="registry answering",
        )
        yield url
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0  # SIGTERM: clean exit


def test_enroll_list_token_revoke(
    run_cli: RunCli, cli_env: dict[str, str], registry_url: str, tmp_path: Path
) -> None:
    """Enrol writes a 0600 key and registers it; list shows it; revoke and status change it."""
    no_token = run_cli("agents", "enroll", "triage", "--version", "1.0")
    assert no_token.returncode == 2
    assert "LONGBOAT_OPERATOR_TOKEN" in no_token.stderr

    cli_env["LONGBOAT_OPERATOR_TOKEN"] = OPERATOR
    key = tmp_path / "triage.key"
    enrolled = run_cli(
        "agents",
        "enroll",
        "triage",
        "--version",
        "1.0",
        "--capability",
        "tool:payments",
        "--capability",
        "memory:claims",
        "--owner",
        "claims-team",
        "--risk-tier",
        "high",
        "--key-file",
        str(key),
    )
    assert enrolled.returncode == 0, enrolled.stderr
    assert str(key.resolve()) in enrolled.stdout
    assert stat.S_IMODE(key.stat().st_mode) == 0o600

    bad = run_cli("agents", "enroll", "triage", "--version", "1.0", "--capability", "printer:hp")
    assert bad.returncode == 2
    assert "--capability" in bad.stderr

    listed = [json.loads(line) for line in run_cli("agents", "--json").stdout.splitlines()]
    assert [a["agent_id"] for a in listed] == ["triage"]
    assert listed[0]["versions"]["1.0"]["status"] == "active"
    assert listed[0]["owner"] == "claims-team"
    assert "triage" in run_cli("agents").stdout

    token = run_cli("agents", "token", "triage", "--version", "1.0", "--key-file", str(key))
    assert token.returncode == 0
    assert token.stdout.count(".") == 2  # a compact JWS

    assert run_cli("agents", "status", "triage", "canary").returncode == 0
    assert "canary" in run_cli("agents").stdout
    revoked = run_cli("agents", "revoke", "triage", "--version", "1.0")
    assert revoked.returncode == 0
    assert "revoked" in run_cli("agents").stdout
    unknown = run_cli("agents", "revoke", "nobody")
    assert unknown.returncode == 2
    assert "404" in unknown.stderr


def test_registry_without_operator_token_refuses_to_start(cli_env: dict[str, str]) -> None:
    """No operator token configured: one line naming the variable, exit 2."""
    result = subprocess.run(
        [LONGBOAT, "run", "registry", "--port", str(free_port())],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "LONGBOAT_OPERATOR_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr
