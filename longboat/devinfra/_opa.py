"""A real Open Policy Agent server, built with ``go install`` from the Go module proxy."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from longboat.devinfra._process import spawn, wait_until
from longboat.devinfra._tools import build_with_go

__all__ = [
    "OPA_MARKER",
    "OPA_VERSION",
    "OpaNode",
    "opa_command",
    "opa_healthy",
    "provision_opa",
    "start_opa",
]

# >= v1.21.3 carries the fix for the bundle-signature advisory.
OPA_VERSION = "v1.22.2"
OPA_MODULE = "github.com/open-policy-agent/opa"
OPA_MARKER = "opa"


@dataclass(frozen=True, slots=True)
class OpaNode:
    """A started OPA server: its pid, address and log."""

    pid: int
    port: int
    log: Path

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"


def provision_opa(cache: Path) -> Path:
    """Build the ``opa`` binary into ``cache/opa-<version>/opa`` once; returns its path."""
    folder = build_with_go(
        cache,
        f"opa-{OPA_VERSION}",
        ["opa"],
        lambda _: ["install", f"{OPA_MODULE}@{OPA_VERSION}"],
        what=f"building OPA {OPA_VERSION} with go install",
        env={"GOFLAGS": "-mod=mod"},
    )
    return folder / "opa"


def opa_healthy(url: str) -> bool:
    """Whether OPA at ``url`` answers ``GET /health`` with 200."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as response:  # noqa: S310 - loopback URL built here
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def opa_command(binary: Path, *, port: int, policy_paths: tuple[Path, ...] = ()) -> list[str]:
    """The command line of an OPA server on ``127.0.0.1:port`` (a fleet supervises it)."""
    args = [
        str(binary),
        "run",
        "--server",
        "--addr",
        f"127.0.0.1:{port}",
        "--skip-version-check",
        "--log-level",
        "error",
    ]
    if policy_paths:
        args += ["--watch", *(str(p) for p in policy_paths)]
    return args


def start_opa(
    binary: Path,
    data: Path,
    *,
    port: int,
    policy_paths: tuple[Path, ...] = (),
    timeout_s: float = 60.0,
) -> OpaNode:
    """Start an OPA server in the background and wait until ``/health`` answers.

    Raises:
        longboat.errors.InfraError: OPA died or was not ready in time.
    """
    data.mkdir(parents=True, exist_ok=True)
    log = data / "opa.log"
    log.write_text("")
    pid = spawn(opa_command(binary, port=port, policy_paths=policy_paths), log=log, cwd=data)
    node = OpaNode(pid=pid, port=port, log=log)
    wait_until(
        lambda: opa_healthy(node.url), pid=pid, timeout_s=timeout_s, what="OPA server", log=log
    )
    return node
