"""A broker for benchmarks: ``LONGBOAT_BENCH_BOOTSTRAP_SERVERS`` or a fresh local one."""

from __future__ import annotations

import os
import platform
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from longboat.devinfra import (
    KAFKA_MARKER,
    KAFKA_VERSION,
    cache_dir,
    free_port,
    provision_kafka,
    start_kafka,
    stop_process,
)

__all__ = ["REPO", "bench_broker", "machine_line"]

REPO = Path(__file__).resolve().parent.parent  # the repository root


@contextmanager
def bench_broker() -> Iterator[str]:
    """Yield a bootstrap address; a broker started here is stopped afterwards."""
    given = os.environ.get("LONGBOAT_BENCH_BOOTSTRAP_SERVERS")
    if given:
        yield given
        return
    jars = provision_kafka(cache_dir(REPO / ".longboat"))
    with tempfile.TemporaryDirectory(prefix="longboat-bench-") as data:
        node = start_kafka(jars, Path(data), port=free_port(), controller_port=free_port())
        try:
            yield node.bootstrap_servers
        finally:
            stop_process(node.pid, KAFKA_MARKER)


def machine_line() -> str:
    """One line describing where the figures were measured."""
    cpus = os.cpu_count()
    return (
        f"{platform.system()} {platform.machine()}, {cpus} cores, "
        f"Python {platform.python_version()}, Kafka {KAFKA_VERSION} single node on loopback"
    )
