"""Run the ``longboat`` console script as a user would, against the session broker."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

LONGBOAT = str(Path(sys.executable).parent / "longboat")

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
