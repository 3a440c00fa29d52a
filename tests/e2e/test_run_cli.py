"""`longboat run <service>` as a supervisor sees it: health routes, SIGTERM, a taken port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from longboat.devinfra import free_port
from tests.e2e.conftest import LONGBOAT, RunCli
from tests.helpers import assert_eventually_sync

OPERATOR = "e2e-operator-token-0123456789abcdef"


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return 0, ""


def test_registry_serves_health_and_exits_0_on_sigterm(
    run_cli: RunCli, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """A running registry answers /livez, /readyz (JSON) and /metrics; SIGTERM exits 0."""
    assert run_cli("topics", "create", "--partitions", "1").returncode == 0
    port = free_port()
    log_path = tmp_path / "registry.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [LONGBOAT, "run", "registry", "--port", str(port)],
            env={**cli_env, "LONGBOAT_OPERATOR_TOKEN": OPERATOR},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        status, body = assert_eventually_sync(
            lambda: _get(f"{url}/readyz"), lambda r: r[0] == 200, timeout_s=60, what="ready"
        )
        assert json.loads(body) == {"ready": True}
        assert _get(f"{url}/livez")[0] == 200
        status, text = _get(f"{url}/metrics")
        assert status == 200
        assert 'longboat_registry_requests_total{route="/readyz",status="200"}' in text
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    assert code == 0, log_path.read_text()


def test_taken_port_is_one_line_naming_the_setting(
    run_cli: RunCli, cli_env: dict[str, str]
) -> None:
    """`run gateway` on a port already in use: exit 2, the setting named, no traceback."""
    assert run_cli("topics", "create", "--partitions", "1").returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [LONGBOAT, "run", "gateway"],
            env={**cli_env, "LONGBOAT_GATEWAY__PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2, result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "LONGBOAT_GATEWAY__PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_broker_is_retryable_exit_1(tmp_path: Path) -> None:
    """No broker at the address: one `error:` line, exit 1 (a restart may help), no traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGBOAT_")}
    env |= {
        "LONGBOAT_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "LONGBOAT_KAFKA__REQUEST_TIMEOUT_MS": "1000",
        "LONGBOAT_DEV_HOME": str(tmp_path),
        "LONGBOAT_OPERATOR_TOKEN": OPERATOR,
    }
    result = subprocess.run(
        [LONGBOAT, "run", "registry", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "error: no Kafka broker answered" in result.stderr
    assert "Traceback" not in result.stderr
