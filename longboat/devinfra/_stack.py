"""The local stack of ``longboat dev``: Kafka (one broker, or three) and OPA on 127.0.0.1.

Everything lives under the dev home (default ``.longboat/``, git-ignored)::

    <home>/cache/kafka-<version>/   broker jars, resolved once by Maven
    <home>/cache/opa-<version>/opa  OPA binary, built once by ``go install``
    <home>/dev/kafka/               broker config, data and log (kept by ``down``)
    <home>/dev/kafka-cluster/node-N/  the same per node of ``up --brokers 3``
    <home>/dev/opa/                 OPA log
    <home>/dev/state.json           pids and addresses while the stack runs

``state.json`` is what every other ``longboat`` command reads to find the broker and OPA
(environment variables override it).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from longboat.devinfra._kafka import (
    KAFKA_MARKER,
    KAFKA_VERSION,
    KafkaNode,
    provision_kafka,
    start_kafka,
    start_kafka_cluster,
)
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
    # Nodes 2..N of a cluster (``up --brokers 3``): pids, ports and controller ports.
    extra_kafka_pids: list[int] = field(default_factory=list)
    extra_kafka_ports: list[int] = field(default_factory=list)
    extra_controller_ports: list[int] = field(default_factory=list)

    @property
    def brokers(self) -> int:
        """How many brokers the stack runs."""
        return 1 + len(self.extra_kafka_pids)

    @property
    def kafka_pids(self) -> list[int]:
        """Every broker's pid, node 1 first."""
        return [self.kafka_pid, *self.extra_kafka_pids]

    @property
    def kafka_running(self) -> bool:
        """Whether every recorded broker process is alive."""
        return all(is_running(pid, KAFKA_MARKER) for pid in self.kafka_pids)

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

    def up(self, *, ports: DevPorts | None = None, brokers: int = 1) -> DevState:
        """Start the stack (provisioning first if needed); a running stack is returned as is.

        ``brokers=3`` starts a three-node KRaft cluster (every node a broker and a controller;
        replication factor 3, ``min.insync.replicas=2``) instead of one broker.

        Raises:
            InfraError: A tool is missing, provisioning failed, or a process did not start.
        """
        current = self.read_state()
        running = current is not None and current.kafka_running and current.opa_running
        if running and current is not None and current.brokers == brokers:
            return current
        self.down()
        jars, opa = self.provision()
        chosen = ports or self._reuse_ports(current)
        nodes = self._start_kafka(jars, chosen, current, brokers)
        try:
            node = start_opa(opa, self.dev / "opa", port=chosen.opa)
        except BaseException:
            # Never leave a broker running that no state file points at.
            for each in nodes:
                stop_process(each.pid, KAFKA_MARKER)
            raise
        first, extra = nodes[0], nodes[1:]
        state = DevState(
            bootstrap_servers=",".join(n.bootstrap_servers for n in nodes),
            opa_url=node.url,
            kafka_pid=first.pid,
            opa_pid=node.pid,
            kafka_port=chosen.kafka,
            controller_port=chosen.controller,
            opa_port=chosen.opa,
            kafka_version=KAFKA_VERSION,
            opa_version=OPA_VERSION,
            extra_kafka_pids=[n.pid for n in extra],
            extra_kafka_ports=[n.port for n in extra],
            extra_controller_ports=[n.controller_port for n in extra],
        )
        self.dev.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=2))
        tmp.replace(self.state_file)  # atomic: readers never see half a file
        return state

    def _start_kafka(
        self, jars: Path, chosen: DevPorts, previous: DevState | None, brokers: int
    ) -> list[KafkaNode]:
        if brokers == 1:
            return [
                start_kafka(
                    jars, self.dev / "kafka", port=chosen.kafka, controller_port=chosen.controller
                )
            ]
        # Keep the extra nodes' ports when free (the storage is formatted for them).
        known: list[tuple[int, int]] = []
        if previous is not None:
            known = list(
                zip(previous.extra_kafka_ports, previous.extra_controller_ports, strict=False)
            )
        extra = [
            known[i]
            if i < len(known) and all(port_is_free(p) for p in known[i])
            else (free_port(), free_port())
            for i in range(brokers - 1)
        ]
        return start_kafka_cluster(
            jars,
            self.dev / "kafka-cluster",
            ports=[(chosen.kafka, chosen.controller), *extra],
        )

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
            for i, pid in enumerate(state.kafka_pids):
                if stop_process(pid, KAFKA_MARKER):
                    stopped.append("kafka" if i == 0 else f"kafka-{i + 1}")
            self.state_file.unlink(missing_ok=True)
        if wipe and self.dev.exists():
            shutil.rmtree(self.dev)
        return stopped
