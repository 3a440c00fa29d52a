"""`longboat run registry` and `longboat agents ...` as an operator uses them."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

from longboat.devinfra import free_port
from tests.e2e.conftest import LONGBOAT, OPERATOR, RunCli


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
