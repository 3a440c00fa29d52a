"""A real KRaft Kafka broker (or a cluster of three on loopback), from Maven Central jars."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from longboat.devinfra._process import spawn, stop_process, wait_until
from longboat.devinfra._tools import require_tool, run_tool

__all__ = [
    "KAFKA_MARKER",
    "KAFKA_VERSION",
    "KafkaNode",
    "provision_kafka",
    "start_kafka",
    "start_kafka_cluster",
]

KAFKA_VERSION = "4.1.1"
# Kafka 4.0/4.1 build against log4j 2.24.3. The slf4j binding is not a transitive dependency
# (Kafka adds it only to its release tarball): without it the broker runs but logs nothing,
# and we detect readiness from the log.
LOG4J_VERSION = "2.24.3"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies"
KAFKA_MARKER = "kafka.Kafka"
_READY_LINE = "Kafka Server started"

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.longboat</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>{kafka}</version>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{kafka}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>{log4j}</version>
    </dependency>
  </dependencies>
</project>
"""

_LOG4J2 = """status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.out.ref = STDOUT
logger.kafka.name = kafka.server.KafkaRaftServer
logger.kafka.level = INFO
logger.broker.name = kafka.server.BrokerServer
logger.broker.level = INFO
"""


@dataclass(frozen=True, slots=True)
class KafkaNode:
    """A started broker: its pid, address and log."""

    pid: int
    port: int
    controller_port: int
    log: Path

    @property
    def bootstrap_servers(self) -> str:
        """``127.0.0.1:<port>``."""
        return f"127.0.0.1:{self.port}"


def provision_kafka(cache: Path) -> Path:
    """Resolve the broker's jars into ``cache/kafka-<version>`` once; returns that folder."""
    target = cache / f"kafka-{KAFKA_VERSION}"
    if (target / ".complete").exists():
        return target
    mvn = require_tool("mvn")
    require_tool("java")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".kafka-") as tmp:
        work = Path(tmp)
        pom = work / "pom.xml"
        pom.write_text(_POM.format(kafka=KAFKA_VERSION, log4j=LOG4J_VERSION))
        jars = work / "jars"
        run_tool(
            [
                mvn,
                "-B",
                "-ntp",
                "-q",
                "-f",
                str(pom),
                DEPENDENCY_PLUGIN,
                "-DincludeScope=runtime",
                f"-DoutputDirectory={jars}",
            ],
            log=cache / "logs" / f"kafka-{KAFKA_VERSION}-maven.log",
            what=f"resolving Kafka {KAFKA_VERSION} jars with Maven",
        )
        (jars / ".complete").write_text(KAFKA_VERSION)
        if target.exists():
            shutil.rmtree(target)
        jars.rename(target)
    return target


def _cluster_id() -> str:
    # KRaft wants 16 random bytes as unpadded base64url (22 characters).
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _server_properties(
    data: Path,
    port: int,
    controller_port: int,
    *,
    node_id: int = 1,
    voters: str | None = None,
    brokers: int = 1,
) -> str:
    replicas = min(3, brokers)
    # A cluster keeps acknowledged writes through the loss of one broker: three copies, two of
    # them in sync before a write (or a transaction marker) counts.
    min_isr = "2" if replicas >= 3 else "1"
    settings = {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "controller.quorum.voters": voters or f"{node_id}@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        # Advertise the IP, not "localhost": clients must reach exactly this listener.
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data / "logs"),
        # One node: the defaults (3 replicas, min ISR 2) would keep the group and transaction
        # coordinators from ever coming up. A cluster gets them explicitly.
        "offsets.topic.replication.factor": str(replicas),
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": min_isr,
        "default.replication.factor": str(replicas),
        "min.insync.replicas": min_isr,
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.num.partitions": "1",
        "group.initial.rebalance.delay.ms": "0",
        "num.partitions": "1",
        "log.cleaner.dedupe.buffer.size": "33554432",
        "auto.create.topics.enable": "false",
    }
    return "".join(f"{k}={v}\n" for k, v in settings.items())


@dataclass(frozen=True, slots=True)
class _NodeLayout:
    data: Path
    node_id: int
    port: int
    controller_port: int

    @property
    def config(self) -> Path:
        return self.data / "server.properties"


def _format_nodes(java: str, jars: Path, nodes: list[_NodeLayout]) -> None:
    """Format every node's storage with one cluster id, unless all were formatted for this."""
    voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in nodes)
    wanted = {n.node_id: {"port": n.port, "voters": voters, "kafka": KAFKA_VERSION} for n in nodes}

    def formatted(node: _NodeLayout) -> bool:
        marker = node.data / "longboat-format.json"
        return marker.exists() and json.loads(marker.read_text()) == wanted[node.node_id]

    if all(formatted(n) for n in nodes):
        return
    # The quorum's addresses are recorded at format time: new ports mean a new cluster.
    cluster_id = _cluster_id()
    for node in nodes:
        if node.data.exists():
            shutil.rmtree(node.data)
        node.data.mkdir(parents=True)
        node.config.write_text(
            _server_properties(
                node.data,
                node.port,
                node.controller_port,
                node_id=node.node_id,
                voters=voters,
                brokers=len(nodes),
            )
        )
        run_tool(
            [
                java,
                "-cp",
                f"{jars}/*",
                "kafka.tools.StorageTool",
                "format",
                # "=" form: a base64url id may start with "-", which argparse would take for an
                # option.
                f"--cluster-id={cluster_id}",
                "-c",
                str(node.config),
            ],
            log=node.data / "format.log",
            what="formatting Kafka storage",
        )
        (node.data / "longboat-format.json").write_text(json.dumps(wanted[node.node_id]))


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def start_kafka(
    jars: Path,
    data: Path,
    *,
    port: int,
    controller_port: int,
    heap: str = "1g",
    timeout_s: float = 120.0,
) -> KafkaNode:
    """Start a broker in the background and wait until it serves clients.

    Raises:
        longboat.errors.InfraError: The broker died or was not ready in time (with its log tail).
    """
    java = require_tool("java")
    node = _NodeLayout(data=data, node_id=1, port=port, controller_port=controller_port)
    _format_nodes(java, jars, [node])
    started = _spawn_node(java, jars, node, heap=heap)
    _wait_ready(started, timeout_s=timeout_s)
    return started


def start_kafka_cluster(
    jars: Path,
    data: Path,
    *,
    ports: list[tuple[int, int]],
    heap: str = "512m",
    timeout_s: float = 180.0,
) -> list[KafkaNode]:
    """Start one KRaft node per ``(port, controller_port)``, every node a broker and a voter.

    Node ``i`` (from 1) keeps its storage in ``data/node-<i>``. With three or more nodes, the
    internal topics and new topics get three replicas and ``min.insync.replicas=2``.

    Raises:
        longboat.errors.InfraError: A node died or was not ready in time (with its log tail).
    """
    java = require_tool("java")
    layout = [
        _NodeLayout(data=data / f"node-{i}", node_id=i, port=port, controller_port=controller)
        for i, (port, controller) in enumerate(ports, start=1)
    ]
    _format_nodes(java, jars, layout)
    # Start every node before waiting: a node is only ready once a quorum of voters is up.
    nodes = [_spawn_node(java, jars, node, heap=heap) for node in layout]
    try:
        for node in nodes:
            _wait_ready(node, timeout_s=timeout_s)
    except BaseException:
        for node in nodes:
            stop_process(node.pid, KAFKA_MARKER)
        raise
    return nodes


def _spawn_node(java: str, jars: Path, node: _NodeLayout, *, heap: str) -> KafkaNode:
    log4j = node.data / "log4j2.properties"
    log4j.write_text(_LOG4J2.format(level=os.environ.get("LONGBOAT_KAFKA_LOG_LEVEL", "WARN")))
    log = node.data / "kafka.log"
    log.write_text("")
    pid = spawn(
        [
            java,
            "-Xms256m",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            f"{jars}/*",
            KAFKA_MARKER,
            str(node.config),
        ],
        log=log,
    )
    return KafkaNode(pid=pid, port=node.port, controller_port=node.controller_port, log=log)


def _wait_ready(node: KafkaNode, *, timeout_s: float) -> None:
    def ready() -> bool:
        return _READY_LINE in node.log.read_text(errors="replace") and _listening(node.port)

    wait_until(ready, pid=node.pid, timeout_s=timeout_s, what="Kafka broker", log=node.log)
