"""What a running fleet records: ``<dev_home>/fleets/<name>/state.json`` and its folders.

The supervisor is the only writer; ``fleet status``, ``logs`` and ``down`` read it. Writes are
atomic (a temporary file renamed over the old one), so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import os
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from longboat.errors import UsageError

__all__ = [
    "ChildState",
    "ChildStatus",
    "FleetPaths",
    "FleetState",
    "read_state",
    "supervisor_alive",
    "write_state",
]

ChildStatus = Literal["starting", "running", "restarting", "failed", "stopped"]


class ChildState(BaseModel):
    """One supervised process."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    component: Literal["opa", "registry", "gateway", "coordinator", "agent"]
    instance: str
    pid: int | None
    port: int
    health_url: str
    log: str
    version: str
    agent: str | None = None
    status: ChildStatus = "starting"
    restarts: int = 0


class FleetState(BaseModel):
    """A running (or stopping) fleet."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    file: str
    supervisor_pid: int
    bootstrap_servers: str
    topic_prefix: str
    registry_url: str
    gateway_url: str
    coordinator_url: str
    started_at: datetime
    phase: Literal["starting", "ready", "failed", "stopping"] = "starting"
    error: str | None = None
    children: tuple[ChildState, ...] = ()


class FleetPaths:
    """The folders and files of one fleet under the dev home."""

    def __init__(self, home: Path, name: str) -> None:
        """Paths of fleet ``name`` under ``home`` (absolute: children run elsewhere)."""
        self.dir = home.resolve() / "fleets" / name
        self.state = self.dir / "state.json"
        self.logs = self.dir / "logs"
        self.keys = self.dir / "keys"
        self.operator_token = self.dir / "operator-token"
        self.tools_file = self.dir / "tools.json"
        self.workflows = self.dir / "workflows"
        self.supervisor_log = self.logs / "supervisor.log"

    def log(self, instance: str) -> Path:
        """The log file of one child (``<component>-<instance>.log`` by its instance name)."""
        return self.logs / f"{instance}.log"


def write_state(paths: FleetPaths, state: FleetState) -> None:
    """Record ``state`` atomically."""
    paths.dir.mkdir(parents=True, exist_ok=True)
    tmp = paths.state.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(state.model_dump_json(indent=2))
    tmp.replace(paths.state)


def read_state(paths: FleetPaths) -> FleetState | None:
    """The recorded state, or ``None`` when the fleet never ran here or has stopped.

    Raises:
        UsageError: The file exists but is not a fleet state (the message names it).
    """
    try:
        text = paths.state.read_text()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise UsageError(f"{paths.state}: cannot read the fleet state: {e}") from e
    try:
        return FleetState.model_validate_json(text)
    except ValidationError as e:
        raise UsageError(f"{paths.state} is not a fleet state (remove it): {e}") from e


def supervisor_alive(state: FleetState) -> bool:
    """Whether the supervisor that recorded ``state`` is still a live process (not a zombie)."""
    pid = state.supervisor_pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A detached supervisor is not our child: /proc tells a zombie from a live process.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[-1].split()[0] != "Z"
    return False
