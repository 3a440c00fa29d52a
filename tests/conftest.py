"""Session fixtures: a real Kafka broker and a real OPA server, started on free ports.

Set ``LONGBOAT_TEST_BOOTSTRAP_SERVERS`` / ``LONGBOAT_TEST_OPA_URL`` to use running ones.
When the infrastructure cannot be had, integration tests skip locally and FAIL when
``CI=true``: a CI run must never pass by skipping what it was meant to prove.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from longboat import KafkaSettings, Settings
from longboat.devinfra import (
    cache_dir,
    free_port,
    opa_healthy,
    provision_kafka,
    provision_opa,
    start_kafka,
    start_opa,
    stop_process,
)
from longboat.devinfra._kafka import KAFKA_MARKER
from longboat.devinfra._opa import OPA_MARKER, OpaNode
from longboat.devinfra._otelcol import (
    OTELCOL_MARKER,
    CollectorNode,
    provision_otelcol,
    start_otelcol,
)
from longboat.errors import InfraError

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(reason: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"CI=true and infrastructure is missing: {reason}", pytrace=False)
    pytest.skip(f"infrastructure not available: {reason}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under integration/, e2e/ and browser/ as an integration test."""
    for item in items:
        parts = Path(str(item.fspath)).parts
        if {"integration", "e2e", "browser"} & set(parts):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def infra_cache() -> Path:
    """Where provisioned jars and binaries are cached (shared with ``longboat dev up``)."""
    return cache_dir(REPO / ".longboat")


@pytest.fixture(scope="session")
def kafka_bootstrap(infra_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The bootstrap address of a real single-node KRaft broker."""
    given = os.environ.get("LONGBOAT_TEST_BOOTSTRAP_SERVERS")
    if given:
        yield given
        return
    try:
        jars = provision_kafka(infra_cache)
        node = start_kafka(
            jars,
            tmp_path_factory.mktemp("kafka"),
            port=free_port(),
            controller_port=free_port(),
            heap="768m",
        )
    except InfraError as e:
        _unavailable(str(e))
    yield node.bootstrap_servers
    stop_process(node.pid, KAFKA_MARKER)


@pytest.fixture(scope="session")
def opa_url(infra_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a real OPA server."""
    given = os.environ.get("LONGBOAT_TEST_OPA_URL")
    if given:
        if not opa_healthy(given):
            _unavailable(f"LONGBOAT_TEST_OPA_URL={given} does not answer /health")
        yield given
        return
    try:
        binary = provision_opa(infra_cache)
        node = start_opa(binary, tmp_path_factory.mktemp("opa"), port=free_port())
    except InfraError as e:
        _unavailable(str(e))
    yield node.url
    stop_process(node.pid, OPA_MARKER)


@pytest.fixture
def fresh_opa(infra_cache: Path, tmp_path: Path, opa_url: str) -> Iterator[tuple[OpaNode, Path]]:
    """A real OPA of this test alone (policies loaded by one test never leak into another)."""
    del opa_url  # depends on the session OPA so that CI fails clearly if OPA cannot be had
    binary = provision_opa(infra_cache)
    node = start_opa(binary, tmp_path / "opa", port=free_port())
    yield node, binary
    stop_process(node.pid, OPA_MARKER)


@pytest.fixture
def unique() -> str:
    """A short unique token for topic, group and prefix names of one test."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def kafka(kafka_bootstrap: str) -> KafkaSettings:
    """Connection settings for the session broker."""
    return KafkaSettings(bootstrap_servers=kafka_bootstrap, request_timeout_ms=15_000)


@pytest.fixture
def settings(kafka: KafkaSettings, unique: str, tmp_path: Path) -> Settings:
    """Settings for one test: the session broker and a topic prefix of its own."""
    return Settings(kafka=kafka, topic_prefix=f"t{unique}.", dev_home=tmp_path / "home")


@pytest.fixture
def collector(infra_cache: Path, tmp_path: Path) -> Iterator[CollectorNode]:
    """A real OpenTelemetry Collector on loopback writing the spans it receives to a file."""
    try:
        binary = provision_otelcol(infra_cache, REPO / "tests" / "tools" / "otelcol")
        node = start_otelcol(binary, tmp_path / "otelcol", http_port=free_port())
    except InfraError as e:
        _unavailable(str(e))
    yield node
    stop_process(node.pid, OTELCOL_MARKER)
