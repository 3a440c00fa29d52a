"""The local stack of ``longboat dev``: one Kafka broker and one OPA server on 127.0.0.1.

Everything lives under the dev home (default ``.longboat/``, git-ignored)::

    <home>/cache/kafka-<version>/   broker jars, resolved once by Maven
    <home>/cache/opa-<version>/opa  OPA binary, built once by ``go install``
    <home>/dev/kafka/               broker config, data and log (kept by ``down``)
    <home>/dev/opa/                 OPA log
    <home>/dev/state.json           pids and addresses while the stack runs

``state.json`` is what every other ``longboat`` command reads to find the broker and OPA
(environment variables override it).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from longboat.devinfra._kafka import KAFKA_MARKER, KAFKA_VERSION, provision_kafka, start_kafka
from longboat.devinfra._opa import OPA_MARKER, OPA_VERSION, opa_healthy, provision_opa, start_opa
from longboat.devinfra._process import is_running, stop_process
from longboat.devinfra._tools import free_port, port_is_free

__all__ = ["DevPorts", "DevStack", "DevState", "cache_dir"]

DEFAULT_PORTS = (9092, 9093, 8181)


def cache_dir(home: Path) -> Path:
    """Where provisioned jars and binaries go: ``LONGBOAT_CACHE_DIR`` or ``<home>/cache``."""
    override = os.environ.get("LONGBOAT_CACHE_DIR")
    return Path(override) if override else home / "cache"


@dataclass(frozen=True, slots=True)
class DevPorts:
    """The three loopback ports of a local stack."""

    kafka: int
    controller: int
    opa: int

    @classmethod
    def pick(cls, preferred: tuple[int, int, int] = DEFAULT_PORTS) -> DevPorts:
        """The preferred ports where free, otherwise ports the OS picks."""
        chosen = [p if port_is_free(p) else free_port() for p in preferred]
        return cls(kafka=chosen[0], controller=chosen[1], opa=chosen[2])


@dataclass(frozen=True, slots=True)
class DevState:
    """What ``state.json`` records about a running stack."""

    bootstrap_servers: str
    opa_url: str
    kafka_pid: int
    opa_pid: int
    kafka_port: int
    controller_port: int
    opa_port: int
    kafka_version: str
    opa_version: str

    @property
    def kafka_running(self) -> bool:
        """Whether the recorded broker process is alive."""
        return is_running(self.kafka_pid, KAFKA_MARKER)

    @property
    def opa_running(self) -> bool:
        """Whether the recorded OPA process is alive and healthy."""
        return is_running(self.opa_pid, OPA_MARKER) and opa_healthy(self.opa_url)


class DevStack:
    """Provision, start, inspect and stop the local broker and OPA under one home folder."""

    def __init__(self, home: Path) -> None:
        """Create a handle on the stack under ``home``; nothing starts until :meth:`up`."""
        # Absolute: the processes run with other working directories.
        self.home = home.resolve()
        self.cache = cache_dir(self.home).resolve()
        self.dev = self.home / "dev"
        self.state_file = self.dev / "state.json"

    def provision(self) -> tuple[Path, Path]:
        """Resolve the broker jars and build OPA if they are not cached yet."""
        return provision_kafka(self.cache), provision_opa(self.cache)

    def read_state(self) -> DevState | None:
        """The recorded state, or ``None`` when nothing was started (or it is unreadable)."""
        try:
            return DevState(**json.loads(self.state_file.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def up(self, *, ports: DevPorts | None = None) -> DevState:
        """Start the stack (provisioning first if needed); a running stack is returned as is.

        Raises:
            InfraError: A tool is missing, provisioning failed, or a process did not start.
        """
        current = self.read_state()
        if current is not None and current.kafka_running and current.opa_running:
            return current
        self.down()
        jars, opa = self.provision()
        chosen = ports or self._reuse_ports(current)
        kafka = start_kafka(
            jars, self.dev / "kafka", port=chosen.kafka, controller_port=chosen.controller
        )
        try:
            node = start_opa(opa, self.dev / "opa", port=chosen.opa)
        except BaseException:
            # Never leave a broker running that no state file points at.
            stop_process(kafka.pid, KAFKA_MARKER)
            raise
        state = DevState(
            bootstrap_servers=kafka.bootstrap_servers,
            opa_url=node.url,
            kafka_pid=kafka.pid,
            opa_pid=node.pid,
            kafka_port=chosen.kafka,
            controller_port=chosen.controller,
            opa_port=chosen.opa,
            kafka_version=KAFKA_VERSION,
            opa_version=OPA_VERSION,
        )
        self.dev.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=2))
        tmp.replace(self.state_file)  # atomic: readers never see half a file
        return state

    def _reuse_ports(self, previous: DevState | None) -> DevPorts:
        # The broker's storage is formatted for its ports: keep them when free so data survives.
        if previous is not None:
            wanted = (previous.kafka_port, previous.controller_port, previous.opa_port)
            return DevPorts.pick(wanted)
        return DevPorts.pick()

    def down(self, *, wipe: bool = False) -> list[str]:
        """Stop whatever runs (OPA, then Kafka); with ``wipe`` delete the broker's data.

        Returns:
            The names of the processes that were running and are now stopped.
        """
        stopped: list[str] = []
        state = self.read_state()
        if state is not None:
            if stop_process(state.opa_pid, OPA_MARKER):
                stopped.append("opa")
            if stop_process(state.kafka_pid, KAFKA_MARKER):
                stopped.append("kafka")
            self.state_file.unlink(missing_ok=True)
        if wipe and self.dev.exists():
            shutil.rmtree(self.dev)
        return stopped
