"""`longboat dev up / status / down`: a real broker and OPA started, found and stopped."""

from __future__ import annotations

import json
from pathlib import Path

from longboat.devinfra import free_port
from tests.e2e.conftest import RunCli


def test_dev_up_status_publish_down(
    run_cli: RunCli, cli_env: dict[str, str], infra_cache: Path
) -> None:
    """dev up starts both, other commands find the broker, down stops both, --wipe deletes."""
    del cli_env["LONGBOAT_KAFKA__BOOTSTRAP_SERVERS"]  # found through the recorded state instead
    cli_env["LONGBOAT_CACHE_DIR"] = str(infra_cache)
    home = Path(cli_env["LONGBOAT_DEV_HOME"])
    kafka_port, opa_port = free_port(), free_port()
    try:
        up = run_cli(
            "dev", "up", "--kafka-port", str(kafka_port), "--opa-port", str(opa_port), timeout=600
        )
        assert up.returncode == 0, up.stderr
        assert f"127.0.0.1:{kafka_port}" in up.stdout
        assert f"http://127.0.0.1:{opa_port}" in up.stdout

        status = json.loads(run_cli("dev", "status", "--json").stdout)
        assert status["running"] is True
        assert status["kafka"]["bootstrap_servers"] == f"127.0.0.1:{kafka_port}"
        assert status["opa"]["up"] is True

        again = run_cli("dev", "up", timeout=120)  # already running: same addresses
        assert f"127.0.0.1:{kafka_port}" in again.stdout

        created = run_cli("topics", "create", "--partitions", "1")
        assert created.returncode == 0, created.stderr
    finally:
        down = run_cli("dev", "down")
    assert down.returncode == 0
    assert "kafka" in down.stdout
    assert "opa" in down.stdout
    stopped = json.loads(run_cli("dev", "status", "--json").stdout)
    assert stopped["running"] is False
    assert (home / "dev" / "kafka").is_dir()  # data kept without --wipe
    assert "nothing was running" in run_cli("dev", "down", "--wipe").stdout
    assert not (home / "dev").exists()
