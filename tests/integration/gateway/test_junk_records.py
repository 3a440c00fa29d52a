"""A gateway starts and serves over system topics that hold records it cannot parse."""

from __future__ import annotations

import io
import json

import structlog

from longboat import configure_logging
from longboat.kafka import Producer
from tests.integration.gateway.conftest import GatewayWorld, client, serving

# A shared 2-core machine: let OPA take its time rather than fail closed (not what is tested).
PATIENT = {"opa_timeout_ms": 5000}
# Not JSON, JSON of the wrong shape, an empty value, a value that is not UTF-8.
JUNK = [b"not json {", b'{"kind": "bundle", "name": 7}', b"", b"\xff\xfe\x00"]


async def _write_junk(world: GatewayWorld, topic: str, *keys: bytes) -> None:
    """Every junk value under each key, then a tombstone for a key that never existed."""
    async with Producer(world.settings.kafka) as producer:
        for key in keys:
            for value in JUNK:
                await producer.send(topic, value, key=key)
        await producer.send(topic, None, key=b"never/existed")


async def test_gateway_survives_junk_on_every_topic_it_reads(world: GatewayWorld) -> None:
    """Junk on lb.policies, lb.registry, lb.memory, lb.tools.ledger: skipped, logged, served."""
    issuer = await world.enroll("triage", "memory:claims")
    bundle = await world.publish()
    async with serving(world, **PATIENT) as gateway, client(gateway, issuer) as gw:
        await gw.memory_put("claims", "c-1", {"note": "kept"})
    names = world.names
    # Junk under the live keys too: the last readable record of a key stays in force.
    await _write_junk(world, names.policies, b"bundle/longboat", b"gateway/gw-test")
    await _write_junk(world, names.registry, b"triage")
    await _write_junk(world, names.memory, b"claims/c-1")
    await _write_junk(world, names.tools_ledger, b"triage:k-1")

    out = io.StringIO()
    configure_logging(level="info", fmt="json", stream=out)
    try:
        async with serving(world, **PATIENT) as gateway, client(gateway, issuer) as gw:
            assert gateway.policies.active is not None
            assert gateway.policies.active.digest == bundle.digest
            assert await gw.memory_get("claims", "c-1") == {"note": "kept"}
            assert await gw.memory_put("claims", "c-1", {"note": "again"}) == 2
    finally:
        structlog.reset_defaults()
    skipped = [
        line
        for line in (json.loads(x) for x in out.getvalue().splitlines() if x.startswith("{"))
        if line.get("event") == "record_skipped"
    ]
    topics = {line["topic"] for line in skipped}
    assert {names.policies, names.registry, names.memory, names.tools_ledger} <= topics
    assert all({"partition", "offset", "error_type"} <= line.keys() for line in skipped)
