"""Driving a fleet from outside its supervisor: detach, status, down and logs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from longboat import KafkaSettings, TopicNames
from longboat.devinfra import is_running
from longboat.errors import InfraError, LongboatError
from longboat.fleet._children import probe
from longboat.fleet._state import (
    ChildState,
    FleetPaths,
    FleetState,
    read_state,
    supervisor_alive,
)
from longboat.fleet._supervisor import CHILD_MARKER, longboat_command
from longboat.kafka import group_lag
from longboat.registry import RegistryClient

__all__ = [
    "StatusRow",
    "detach_supervisor",
    "fleet_status",
    "follow_logs",
    "log_files",
    "stop_fleet",
    "tail_lines",
]

_READY_TIMEOUT_S = 300.0


def detach_supervisor(file: Path, paths: FleetPaths, *, say: Callable[[str], None]) -> FleetState:
    """Start ``longboat fleet up -f FILE`` in the background; return its state once ready.

    Raises:
        InfraError: The supervisor failed or exited during start-up (with its log's tail).
    """
    paths.logs.mkdir(parents=True, exist_ok=True)
    with paths.supervisor_log.open("ab") as out:
        process = subprocess.Popen(
            longboat_command("fleet", "up", "-f", str(file.resolve())),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # it outlives this command and the terminal
        )
    shown: set[str] = set()
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        state = read_state(paths)
        if state is not None and state.supervisor_pid == process.pid:
            for child in state.children:
                if child.status == "running" and child.instance not in shown:
                    shown.add(child.instance)
                    say(f"ready        {child.instance:<22} pid {child.pid}")
            if state.phase == "ready":
                return state
        if process.poll() is not None:
            raise InfraError(f"the fleet did not start; {_tail(paths.supervisor_log)}")
        time.sleep(0.3)
    raise InfraError(f"the fleet was not ready after {_READY_TIMEOUT_S:.0f}s; see fleet logs")


def _tail(log: Path, lines: int = 20) -> str:
    return f"log {log}:\n" + "\n".join(tail_lines(log, lines))


def stop_fleet(paths: FleetPaths, *, grace_s: float = 60.0) -> int:
    """Stop the supervisor (it stops its children), then any child still alive.

    Returns:
        How many processes were running.
    """
    state = read_state(paths)
    if state is None:
        return 0
    alive = [c for c in state.children if c.pid is not None and _is_child(c)]
    count = len(alive)
    if _signal(state.supervisor_pid, signal.SIGTERM):
        count += 1
        deadline = time.monotonic() + grace_s
        while supervisor_alive(state) and time.monotonic() < deadline:
            time.sleep(0.2)
    for child in alive:  # left over when the supervisor was killed or hung
        if child.pid is not None and _is_child(child):
            _signal(child.pid, signal.SIGKILL)
    paths.state.unlink(missing_ok=True)
    return count


def _is_child(child: ChildState) -> bool:
    marker = "opa" if child.component == "opa" else CHILD_MARKER
    return child.pid is not None and is_running(child.pid, marker)


def _signal(pid: int, sig: signal.Signals) -> bool:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


class StatusRow(BaseModel):
    """One line of ``fleet status``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    component: str
    instance: str
    pid: int | None
    health: str
    version: str
    lag: int | None
    last_heartbeat: datetime | None
    restarts: int
    status: str

    def cells(self) -> tuple[str, ...]:
        """The row as table cells."""
        beat = "-"
        if self.last_heartbeat is not None:
            beat = f"{(datetime.now(UTC) - self.last_heartbeat).total_seconds():.0f}s ago"
        return (
            self.component,
            self.instance,
            str(self.pid or "-"),
            self.health,
            self.version,
            "-" if self.lag is None else str(self.lag),
            beat,
            str(self.restarts),
        )


def fleet_status(state: FleetState) -> list[StatusRow]:
    """Health (``/readyz``), lag (from the broker) and heartbeats (from the registry)."""
    lags, beats = asyncio.run(_observe(state))
    rows = []
    for child in state.children:
        healthy = child.pid is not None and probe(child.health_url)
        rows.append(
            StatusRow(
                component=child.component,
                instance=child.instance,
                pid=child.pid,
                health="ready"
                if healthy
                else child.status
                if child.status != "running"
                else "down",
                version=child.version,
                lag=lags.get(child.agent or child.component),
                last_heartbeat=beats.get((child.agent or "", child.version, child.instance)),
                restarts=child.restarts,
                status=child.status,
            )
        )
    return rows


async def _observe(
    state: FleetState,
) -> tuple[dict[str, int | None], dict[tuple[str, str, str], datetime]]:
    kafka = KafkaSettings(bootstrap_servers=state.bootstrap_servers, request_timeout_ms=5_000)
    names = TopicNames(state.topic_prefix)
    groups = {c.agent: [c.agent] for c in state.children if c.agent}
    groups["coordinator"] = ["coordinator-router", "coordinator"]
    lags: dict[str, int | None] = {}
    for key, agents in groups.items():
        try:
            found = [await group_lag(kafka, f"{names.prefix}agent.{a}") for a in agents]
        except LongboatError:
            found = [None]
        known = [x for x in found if x is not None]
        lags[key] = sum(known) if known else None
    beats: dict[tuple[str, str, str], datetime] = {}
    try:
        async with RegistryClient(state.registry_url, timeout_s=3) as registry:
            for record in await registry.agents():
                for version in record.versions.values():
                    for instance in version.instances.values():
                        seen = (record.agent_id, version.version, instance.instance)
                        beats[seen] = instance.last_heartbeat
    except LongboatError:
        pass  # the registry is down: status still shows the rest
    return lags, beats


def log_files(paths: FleetPaths, component: str | None) -> list[Path]:
    """The log files of the fleet, or of one component/agent/instance (a name prefix)."""
    files = sorted(paths.logs.glob("*.log")) if paths.logs.exists() else []
    if component is None:
        return files
    return [f for f in files if f.stem == component or f.stem.startswith(component + "-")]


def tail_lines(path: Path, count: int) -> list[str]:
    """The last ``count`` lines of a log."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return lines[-count:] if count else []


def follow_logs(files: list[Path], *, interval_s: float = 0.5) -> Iterator[tuple[Path, str]]:
    """New lines of each file as they are written (until the caller stops iterating)."""
    offsets = {f: f.stat().st_size if f.exists() else 0 for f in files}
    while True:
        for path in files:
            with contextlib.suppress(OSError), path.open("rb") as handle:
                handle.seek(offsets[path])
                data = handle.read()
                offsets[path] += len(data)
                for line in data.decode(errors="replace").splitlines():
                    yield path, line
        time.sleep(interval_s)
