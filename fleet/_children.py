"""One supervised child process: start, probe, restart with capped backoff, stop."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from longboat.errors import InfraError
from longboat.fleet._state import ChildState, ChildStatus

__all__ = ["Child", "ChildSpec", "RestartPolicy", "probe"]


def probe(url: str) -> bool:
    """Whether ``url`` (a ``/readyz`` or ``/health`` on loopback) answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback URL built here
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError, ValueError):
        return False


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """Capped exponential backoff; more than ``max_restarts`` in ``window_s`` marks it failed."""

    initial_s: float = 0.5
    max_s: float = 30.0
    max_restarts: int = 5
    window_s: float = 120.0

    def delay_s(self, recent: int) -> float:
        """The wait before the next start after ``recent`` restarts in the window."""
        return float(min(self.max_s, self.initial_s * 2**recent))


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """What to run, where, and how to tell it is ready."""

    component: str
    instance: str
    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: Path
    log: Path
    port: int
    health_url: str
    version: str
    agent: str | None = None


@dataclass(slots=True)
class Child:
    """A child process under supervision (only the supervisor thread touches it)."""

    spec: ChildSpec
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    process: subprocess.Popen[bytes] | None = None
    status: ChildStatus = "starting"
    restarts: int = 0
    restart_times: list[float] = field(default_factory=list)
    next_start: float | None = None

    def start(self) -> None:
        """Start the process, its output appended to its log.

        Raises:
            InfraError: The program cannot be started.
        """
        self.spec.log.parent.mkdir(parents=True, exist_ok=True)
        with self.spec.log.open("ab") as out:
            try:
                # Its own session: Ctrl-C reaches the supervisor only, which stops the
                # children in reverse order instead of all at once.
                self.process = subprocess.Popen(
                    self.spec.argv,
                    env=self.spec.env,
                    cwd=self.spec.cwd,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            except OSError as e:
                raise InfraError(f"cannot start {self.spec.instance}: {e}") from e
        self.next_start = None

    @property
    def pid(self) -> int | None:
        """The pid of the current process, if one runs."""
        return self.process.pid if self.process is not None else None

    def exited(self) -> bool:
        """Whether the process has ended (reaping it)."""
        return self.process is not None and self.process.poll() is not None

    def ready(self) -> bool:
        """Whether it runs and its health URL answers 200."""
        return self.process is not None and not self.exited() and probe(self.spec.health_url)

    def schedule_restart(self, now: float) -> None:
        """After an unexpected exit: restart later, or give up when it crashes too often."""
        self.restart_times = [t for t in self.restart_times if now - t < self.policy.window_s]
        if len(self.restart_times) >= self.policy.max_restarts:
            self.status = "failed"
            self.next_start = None
            return
        self.next_start = now + self.policy.delay_s(len(self.restart_times))
        self.restart_times.append(now)
        self.restarts += 1
        self.status = "restarting"

    def due(self, now: float) -> bool:
        """Whether a scheduled restart is due."""
        return self.next_start is not None and now >= self.next_start

    def stop(self, grace_s: float) -> None:
        """SIGTERM, wait up to ``grace_s``, then SIGKILL; idempotent."""
        self.next_start = None
        process = self.process
        if process is None or process.poll() is not None:
            self.status = "stopped"
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
            process.wait()
        self.status = "stopped"

    def state(self) -> ChildState:
        """What ``state.json`` records about it."""
        alive = self.process is not None and self.process.poll() is None
        return ChildState(
            component=self.spec.component,  # type: ignore[arg-type]
            instance=self.spec.instance,
            pid=self.pid if alive else None,
            port=self.spec.port,
            health_url=self.spec.health_url,
            log=str(self.spec.log),
            version=self.spec.version,
            agent=self.spec.agent,
            status=self.status,
            restarts=self.restarts,
        )


def wait_ready(children: list[Child], *, timeout_s: float, on_ready: object = None) -> None:
    """Poll until every child is ready; fail with the log tail of one that died or hung."""
    deadline = time.monotonic() + timeout_s
    pending = list(children)
    while pending:
        for child in list(pending):
            if child.ready():
                child.status = "running"
                pending.remove(child)
                if callable(on_ready):
                    on_ready(child)
            elif child.exited():
                raise InfraError(f"{child.spec.instance} exited during start-up; {_tail(child)}")
        if pending and time.monotonic() > deadline:
            names = ", ".join(c.spec.instance for c in pending)
            raise InfraError(f"not ready after {timeout_s:.0f}s: {names}; {_tail(pending[0])}")
        if pending:
            time.sleep(0.2)


def _tail(child: Child, lines: int = 15) -> str:
    try:
        text = child.spec.log.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        text = ["(no log)"]
    return f"log {child.spec.log}:\n" + "\n".join(text)
