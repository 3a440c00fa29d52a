"""Run the ``longboat`` console script as a user would, against the session broker."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from longboat.devinfra import free_port
from tests.helpers import assert_eventually_sync

LONGBOAT = str(Path(sys.executable).parent / "longboat")

OPERATOR = "e2e-operator-token-0123456789abcdef"  # the registry fixture's operator token

RunCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli_env(kafka_bootstrap: str, unique: str, tmp_path: Path, infra_cache: Path) -> dict[str, str]:
    """Environment for the CLI: the session broker, a topic prefix and dev home of this test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGBOAT_")}
    env |= {
        "LONGBOAT_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "LONGBOAT_TOPIC_PREFIX": f"e{unique}.",
        "LONGBOAT_DEV_HOME": str(tmp_path / "home"),
        "LONGBOAT_CACHE_DIR": str(infra_cache),
    }
    return env


@pytest.fixture
def run_cli(cli_env: dict[str, str]) -> RunCli:
    """Run ``longboat ARGS`` and return the completed process (never raises on exit codes)."""

    def run(
        *args: str, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [LONGBOAT, *args],
            env=cli_env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


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
