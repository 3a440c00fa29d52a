"""Starting, probing and stopping the background processes of the local stack."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from longboat.errors import InfraError

__all__ = ["is_running", "log_tail", "spawn", "stop_process", "wait_until"]


def spawn(args: list[str], *, log: Path, cwd: Path | None = None) -> int:
    """Start ``args`` in its own session (it outlives this process); returns its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        try:
            proc = subprocess.Popen(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as e:
            raise InfraError(f"cannot start {args[0]}: {e}") from e
    return proc.pid


def is_running(pid: int, marker: str) -> bool:
    """Whether ``pid`` is alive and its command line contains ``marker``.

    The marker guards against a recycled pid: we never signal a process we did not start.
    """
    try:
        cmdline = (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state != "Z" and marker in cmdline


def log_tail(log: Path, lines: int = 20) -> str:
    """The last lines of a log file, for error messages."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_until(
    ready: Callable[[], bool],
    *,
    pid: int,
    timeout_s: float,
    what: str,
    log: Path,
) -> None:
    """Poll ``ready`` until true; fail early if the child ``pid`` exits, with its log's tail."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return
        if _child_exited(pid):
            raise InfraError(f"{what} exited during start-up; log {log}:\n{log_tail(log)}")
        time.sleep(0.2)
    raise InfraError(f"{what} was not ready after {timeout_s:.0f}s; log {log}:\n{log_tail(log)}")


def _child_exited(pid: int) -> bool:
    # waitpid, not /proc: a freshly exec'd process can briefly show an empty cmdline.
    try:
        done, _status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return not Path(f"/proc/{pid}").exists()
    return done == pid


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop_process(pid: int, marker: str, *, timeout_s: float = 30.0) -> bool:
    """SIGTERM, wait up to ``timeout_s``, then SIGKILL; returns whether it was running."""
    if not is_running(pid, marker):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _reap(pid)
        if not is_running(pid, marker):
            return True
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
    while is_running(pid, marker):
        _reap(pid)
        time.sleep(0.1)
    return True
