"""Real local infrastructure for development, tests and demos: KRaft Kafka and OPA.

Both are provisioned from package registries (Maven Central, the Go module proxy) into a
git-ignored cache and started as background processes on 127.0.0.1.
"""

from longboat.devinfra._kafka import (
    KAFKA_MARKER,
    KAFKA_VERSION,
    KafkaNode,
    provision_kafka,
    start_kafka,
    start_kafka_cluster,
)
from longboat.devinfra._opa import (
    OPA_MARKER,
    OPA_VERSION,
    OpaNode,
    opa_command,
    opa_healthy,
    provision_opa,
    start_opa,
)
from longboat.devinfra._process import is_running, stop_process
from longboat.devinfra._stack import DEFAULT_PORTS, DevPorts, DevStack, DevState, cache_dir
from longboat.devinfra._tools import free_port, port_is_free

__all__ = [
    "DEFAULT_PORTS",
    "KAFKA_MARKER",
    "KAFKA_VERSION",
    "OPA_MARKER",
    "OPA_VERSION",
    "DevPorts",
    "DevStack",
    "DevState",
    "KafkaNode",
    "OpaNode",
    "cache_dir",
    "free_port",
    "is_running",
    "opa_command",
    "opa_healthy",
    "port_is_free",
    "provision_kafka",
    "provision_opa",
    "start_kafka",
    "start_kafka_cluster",
    "start_opa",
    "stop_process",
]
