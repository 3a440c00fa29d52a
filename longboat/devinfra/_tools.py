"""Build tools that provisioning needs, with install instructions when they are missing."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from longboat.errors import InfraError, ToolMissing

__all__ = ["build_with_go", "free_port", "port_is_free", "require_tool", "run_tool"]

_INSTALL_HINTS = {
    "java": "install a Java 17+ runtime (Debian/Ubuntu: apt-get install openjdk-17-jre-headless)",
    "mvn": "install Maven 3.8+ (Debian/Ubuntu: apt-get install maven)",
    "go": "install Go 1.23+ (https://go.dev/doc/install, or apt-get install golang-go)",
}


def require_tool(name: str) -> str:
    """The absolute path of ``name`` on PATH, or :class:`ToolMissing` saying how to install it."""
    path = shutil.which(name)
    if path is None:
        hint = _INSTALL_HINTS.get(name, f"install {name}")
        raise ToolMissing(
            f"'{name}' is not on PATH; it is needed to provision local infrastructure: {hint}"
        )
    return path


def run_tool(args: list[str], *, log: Path, what: str, env: dict[str, str] | None = None) -> None:
    """Run a provisioning command, its output going to ``log``; fail with the log's tail."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        result = subprocess.run(args, stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise InfraError(f"{what} failed (exit {result.returncode}); full log: {log}\n{tail}")


def build_with_go(
    cache: Path,
    folder: str,
    binaries: Sequence[str],
    go_args: Callable[[str], list[str]],
    *,
    what: str,
    env: Mapping[str, str] | None = None,
) -> Path:
    """Build Go ``binaries`` into ``cache/folder/`` once; returns that folder.

    Args:
        cache: The provisioning cache (``LONGBOAT_CACHE_DIR``).
        folder: The versioned folder under the cache (``opa-v1.22.2``); also names the build log.
        binaries: The file names the build leaves in its output folder.
        go_args: The ``go`` arguments, given that output folder (``GOBIN`` is set to it too,
            so ``go install`` fits as well as ``go build -o``).
        what: What is built, for the error message.
        env: Extra environment for ``go``.

    Raises:
        ToolMissing: ``go`` is not on PATH.
        InfraError: The build failed (with its log's tail).
    """
    target = cache / folder
    if all((target / name).exists() for name in binaries):
        return target
    go = require_tool("go")
    cache.mkdir(parents=True, exist_ok=True)
    # Built beside the cache, then moved in: an interrupted build never leaves a half binary.
    with tempfile.TemporaryDirectory(dir=cache, prefix=f".{folder}-") as tmp:
        # Pure Go (no cgo), so the binaries need nothing from the system at run time.
        run_tool(
            [go, *go_args(tmp)],
            log=cache / "logs" / f"{folder}-go.log",
            what=what,
            env={**os.environ, "GOBIN": tmp, "CGO_ENABLED": "0", **(env or {})},
        )
        target.mkdir(parents=True, exist_ok=True)
        for name in binaries:
            shutil.move(str(Path(tmp) / name), target / name)
    return target


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether nothing listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port
