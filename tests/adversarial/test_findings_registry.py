"""Regressions for the registry findings of issue 11: agents cannot grow their record."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from longboat import Settings, TopicNames
from longboat.kafka import Producer
from longboat.registry import (
    AgentRecord,
    IdentityRefused,
    RegistryView,
    TokenIssuer,
    TokenVerifier,
    generate_key,
    public_key_b64,
)
from longboat.registry._model import MAX_INSTANCES_PER_VERSION, InstanceInfo
from longboat.registry._store import MAX_RECORD_BYTES
from tests.adversarial._http import send
from tests.adversarial._registry import OPERATOR, ensure_topics, registry_service
from tests.helpers import assert_eventually

pytestmark = pytest.mark.integration

DIGEST = "sha256:" + "ab" * 32


async def _enroll(port: int, agent: str) -> tuple[Ed25519PrivateKey, TokenIssuer]:
    key = generate_key()
    status, body = await send(
        "POST",
        f"http://127.0.0.1:{port}/v1/agents",
        body=json.dumps(
            {"agent_id": agent, "version": "1.0", "public_key": public_key_b64(key)}
        ).encode(),
        token=OPERATOR,
    )
    assert status == 201, body
    return key, TokenIssuer(key, agent_id=agent, version="1.0", instance="pod-1")


async def _beat(port: int, agent: str, token: str, digest: object) -> tuple[int, Any]:
    url = f"http://127.0.0.1:{port}/v1/agents/{agent}/heartbeat"
    return await send("POST", url, body=json.dumps({"code_digest": digest}).encode(), token=token)


async def test_heartbeat_fields_are_bounded(settings: Settings) -> None:
    """Finding 2: a long or odd code_digest or instance name is refused with 400."""
    await ensure_topics(settings)
    async with registry_service(settings) as service:
        key, issuer = await _enroll(service.port, "beater")
        status, body = await _beat(service.port, "beater", issuer.issue(), "x" * 50_000)
        assert status == 400, body
        assert (await _beat(service.port, "beater", issuer.issue(), DIGEST))[0] == 200
        for bad in ("i" * 300, "pod 1", "pod\n1", "", "../pod"):
            odd = TokenIssuer(key, agent_id="beater", version="1.0", instance=bad)
            status, body = await _beat(service.port, "beater", odd.issue(), DIGEST)
            assert status == 400, (bad, body)
            assert body["error"] == "heartbeat_invalid"


async def test_instances_are_capped_stalest_evicted(settings: Settings) -> None:
    """Finding 2: heartbeats from many instance names keep only the freshest few."""
    await ensure_topics(settings)
    async with registry_service(settings) as service:
        key, _ = await _enroll(service.port, "swarm")
        for n in range(MAX_INSTANCES_PER_VERSION + 8):
            pod = TokenIssuer(key, agent_id="swarm", version="1.0", instance=f"pod-{n}")
            status, body = await _beat(service.port, "swarm", pod.issue(), DIGEST)
            assert status == 200, body
        assert service.store is not None
        record = service.store.get("swarm")
        assert record is not None
        instances = record.versions["1.0"].instances
        assert len(instances) == MAX_INSTANCES_PER_VERSION
        assert "pod-0" not in instances
        assert f"pod-{MAX_INSTANCES_PER_VERSION + 7}" in instances


async def test_revocation_lands_on_a_record_grown_before_the_bounds(settings: Settings) -> None:
    """Finding 2: a record grown near Kafka's limit is still revoked; its tokens are refused."""
    await ensure_topics(settings)
    topic = TopicNames(settings.topic_prefix).registry
    async with registry_service(settings) as service:
        _, issuer = await _enroll(service.port, "bloated")
        assert service.store is not None
        record = service.store.get("bloated")
        assert record is not None
    now = datetime.now(UTC)
    grown = {
        f"i{n}": InstanceInfo(
            instance=f"i{n}", code_digest="x" * 40_000, started_at=now, last_heartbeat=now
        )
        for n in range(20)
    }
    entry = record.versions["1.0"].model_copy(update={"instances": grown})
    bloated = record.model_copy(update={"versions": {"1.0": entry}, "revision": 2})
    value = bloated.model_dump_json().encode()
    assert MAX_RECORD_BYTES < len(value) < 1_000_000
    async with Producer(settings.kafka) as producer:
        await producer.send(topic, value, key=b"bloated")
    async with registry_service(settings) as service, RegistryView(settings.kafka, topic) as view:
        base = f"http://127.0.0.1:{service.port}/v1/agents/bloated"
        status, body = await send("GET", base)
        assert status == 200
        assert len(body["versions"]["1.0"]["instances"]) == 20  # it really is the grown one
        status, body = await send("POST", base + "/revoke", body=b"{}", token=OPERATOR)
        assert status == 200, body
        revoked = AgentRecord.model_validate(body)
        assert revoked.versions["1.0"].status == "revoked"
        assert revoked.versions["1.0"].instances == {}
        verifier = TokenVerifier(view)

        async def refused() -> str:
            try:
                verifier.verify(issuer.issue())
            except IdentityRefused as e:
                return e.reason
            return "accepted"

        await assert_eventually(refused, lambda r: r == "revoked", what="revocation seen")
        status, _ = await send("GET", base)
        assert status == 200


@pytest.mark.parametrize(
    "body", [b'{"code_digest": NaN}', b"[" * 10_000, b'{"code_digest": "\\ud800"}', b"\xff"]
)
async def test_hostile_heartbeat_bodies_get_400(settings: Settings, body: bytes) -> None:
    """Finding 6: non-JSON, NaN, lone surrogates and deep nesting are refused with 400."""
    await ensure_topics(settings)
    async with registry_service(settings) as service:
        _, issuer = await _enroll(service.port, "odd")
        url = f"http://127.0.0.1:{service.port}/v1/agents/odd/heartbeat"
        status, answer = await send("POST", url, body=body, token=issuer.issue())
        assert status == 400, answer
