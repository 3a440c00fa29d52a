"""A gateway to measure: OPA, enrolled agents, the shipped policies, a `run gateway` process."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from bench._broker import REPO
from longboat import KafkaSettings, TopicNames
from longboat.devinfra import (
    OPA_MARKER,
    OpaNode,
    cache_dir,
    free_port,
    provision_opa,
    start_opa,
    stop_process,
)
from longboat.gateway import PolicyBundle, publish_bundle
from longboat.kafka import Admin
from longboat.registry import Capability, RegistryStore, TokenIssuer, generate_key, public_key_b64

__all__ = ["bench_opa", "prepare_gateway", "running_gateway"]


@contextmanager
def bench_opa() -> Iterator[OpaNode]:
    """A fresh OPA on a free loopback port, stopped afterwards."""
    with tempfile.TemporaryDirectory(prefix="longboat-bench-opa-") as data:
        opa = start_opa(provision_opa(cache_dir(REPO / ".longboat")), Path(data), port=free_port())
        try:
            yield opa
        finally:
            stop_process(opa.pid, OPA_MARKER)


async def prepare_gateway(
    kafka: KafkaSettings, prefix: str, agents: Mapping[str, Sequence[str]]
) -> dict[str, TokenIssuer]:
    """System topics, each agent enrolled with its capabilities, the shipped policies published.

    Returns:
        A token issuer per agent (instance ``bench``).
    """
    names = TopicNames(prefix)
    async with Admin(kafka) as admin:
        await admin.ensure_topics(names.system_topics(partitions=1))
    issuers = {}
    async with RegistryStore(kafka, names.registry, rotation_grace=timedelta(0)) as store:
        for agent, capabilities in agents.items():
            key = generate_key()
            await store.enroll(
                agent,
                version="1.0",
                public_key=public_key_b64(key),
                capabilities=tuple(Capability.parse(c) for c in capabilities),
            )
            issuers[agent] = TokenIssuer(key, agent_id=agent, version="1.0", instance="bench")
    bundle = PolicyBundle.from_dir(REPO / "policies")
    await publish_bundle(bundle, kafka=kafka, topic_prefix=prefix)
    return issuers


@contextmanager
def running_gateway(
    servers: str, prefix: str, opa_url: str, *, log: bool, env: Mapping[str, str] | None = None
) -> Iterator[str]:
    """A ``longboat run gateway`` process, ready; yields its URL and terminates it afterwards.

    ``env`` adds settings (the model provider behind ``/v1/models``, MCP credentials, ...).
    """
    port = free_port()
    settings = {
        **os.environ,
        "LONGBOAT_KAFKA__BOOTSTRAP_SERVERS": servers,
        "LONGBOAT_TOPIC_PREFIX": prefix,
        "LONGBOAT_OPA_URL": opa_url,
        "LONGBOAT_GATEWAY__DECISION_LOG": str(log).lower(),
        "LONGBOAT_GATEWAY__RATE_LIMIT_PER_MINUTE": "1000000",
        "LONGBOAT_GATEWAY__OPA_TIMEOUT_MS": "1000",
        "LONGBOAT_GATEWAY__INSTANCE": f"bench-{uuid.uuid4().hex[:4]}",
        "LONGBOAT_LOG_LEVEL": "warning",
        **(env or {}),
    }
    longboat = str(Path(sys.executable).parent / "longboat")
    process = subprocess.Popen(
        [longboat, "run", "gateway", "--port", str(port)],
        env=settings,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_ready(url: str) -> None:
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=1) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("gateway did not become ready")
