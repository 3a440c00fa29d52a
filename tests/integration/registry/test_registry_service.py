"""The registry service against the real broker: enrol, tokens, revocation, restart, auth."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from pydantic import JsonValue

from longboat import Envelope, Settings, TopicNames, TopicSpec
from longboat.agents import Agent, AgentRuntimeSettings, AgentSettings, Context
from longboat.kafka import Admin, Producer
from longboat.registry import (
    Capability,
    IdentityRefused,
    RegistryClient,
    RegistryRefused,
    RegistryService,
    RegistrySettings,
    RegistryView,
    TokenIssuer,
    TokenVerifier,
    generate_key,
    public_key_b64,
    write_private_key,
)
from longboat.registry._settings import RegistryServiceSettings
from tests.helpers import assert_eventually
from tests.integration.agents.conftest import running

OPERATOR = "operator-token-for-tests-0123456789"


@contextlib.asynccontextmanager
async def registry_service(settings: Settings) -> AsyncIterator[RegistryService]:
    """A registry service on a free port, on this test's topics."""
    service_settings = RegistrySettings(
        kafka=settings.kafka,
        topic_prefix=settings.topic_prefix,
        operator_token=OPERATOR,  # type: ignore[arg-type]
        registry=RegistryServiceSettings(port=0, rotation_grace_s=2),
    )
    async with RegistryService(service_settings) as service:
        task = asyncio.create_task(service.run())
        try:
            yield service
        finally:
            service.shutdown()
            await task


async def _topics(settings: Settings) -> None:
    names = TopicNames(settings.topic_prefix)
    async with Admin(settings.kafka) as admin:
        await admin.ensure_topics(names.system_topics(partitions=1))


def _url(service: RegistryService) -> str:
    return f"http://127.0.0.1:{service.port}"


async def test_enrol_token_verify_revoke_restart(settings: Settings) -> None:
    """Enrolled → verified by live views; revoked → refused by every view; a restart keeps all."""
    await _topics(settings)
    topic = TopicNames(settings.topic_prefix).registry
    key = generate_key()
    async with (
        registry_service(settings) as service,
        RegistryClient(_url(service), operator_token=OPERATOR) as client,
    ):
        record = await client.enroll(
            "triage",
            version="1.0",
            public_key=public_key_b64(key),
            capabilities=[Capability.parse("tool:payments"), Capability.parse("memory:claims")],
            owner="claims-team",
            risk_tier="high",
        )
        assert record.versions["1.0"].status == "active"
        issuer = TokenIssuer(key, agent_id="triage", version="1.0", instance="pod-1")
        async with (
            RegistryView(settings.kafka, topic) as view_a,
            RegistryView(settings.kafka, topic) as view_b,
        ):
            verifiers = [TokenVerifier(view_a), TokenVerifier(view_b)]
            for verifier in verifiers:
                assert verifier.verify(issuer.issue()).agent_id == "triage"
            entry = view_a.lookup("triage", "1.0")
            assert entry is not None
            assert [str(c) for c in entry.capabilities] == ["tool:payments", "memory:claims"]

            revoked_at = time.monotonic()
            await client.revoke("triage")
            for verifier in verifiers:

                async def probe(v: TokenVerifier = verifier) -> str:
                    return await _refusal(v, issuer)

                await assert_eventually(
                    probe,
                    lambda r: r == "revoked",
                    timeout_s=30,
                    interval_s=0.02,
                    what="revocation seen",
                )
            elapsed = time.monotonic() - revoked_at
            print(f"revocation refused by both live views after {elapsed * 1000:.0f} ms")  # noqa: T201

    # Restart: the new service rebuilds everything from the topic.
    async with registry_service(settings) as service, RegistryClient(_url(service)) as client:
        again = await client.get("triage")
        assert again.versions["1.0"].status == "revoked"
        assert again.owner == "claims-team"
        assert again.risk_tier == "high"
        assert again.revision == record.revision + 1


async def _refusal(verifier: TokenVerifier, issuer: TokenIssuer) -> str:
    try:
        verifier.verify(issuer.issue())
    except IdentityRefused as e:
        return e.reason
    return "accepted"


async def test_mutations_need_the_operator_token(settings: Settings) -> None:
    """No token → 401, a wrong token → 403; reads need none; bad bodies → 400 naming the field."""
    await _topics(settings)
    async with registry_service(settings) as service:
        async with RegistryClient(_url(service)) as anonymous:
            with pytest.raises(RegistryRefused) as missing:
                await anonymous.enroll(
                    "triage",
                    version="1",
                    public_key=public_key_b64(generate_key()),
                    capabilities=[],
                )
            assert missing.value.status == 401
            assert await anonymous.agents() == []
        async with RegistryClient(_url(service), operator_token="wrong-token-wrong-token") as wrong:
            with pytest.raises(RegistryRefused) as forbidden:
                await wrong.revoke("triage")
            assert forbidden.value.status == 403
        async with aiohttp.ClientSession() as http:
            body = {"agent_id": "triage", "version": "1", "public_key": "not-a-key"}
            async with http.post(
                f"{_url(service)}/v1/agents",
                json=body,
                headers={"Authorization": f"Bearer {OPERATOR}"},
            ) as response:
                assert response.status == 400
                assert "public_key" in (await response.json())["message"]
        async with RegistryClient(_url(service), operator_token=OPERATOR) as client:
            with pytest.raises(RegistryRefused) as unknown:
                await client.revoke("nobody")
            assert unknown.value.status == 404


async def test_key_rotation_keeps_the_old_key_for_the_grace_period(settings: Settings) -> None:
    """A new key for one version: both verify during the grace (2 s here), then only the new."""
    await _topics(settings)
    topic = TopicNames(settings.topic_prefix).registry
    old, new = generate_key(), generate_key()
    async with (
        registry_service(settings) as service,
        RegistryClient(_url(service), operator_token=OPERATOR) as client,
    ):
        await client.enroll(
            "triage", version="1.0", public_key=public_key_b64(old), capabilities=[]
        )
        await client.enroll(
            "triage", version="1.0", public_key=public_key_b64(new), capabilities=[]
        )
        async with RegistryView(settings.kafka, topic) as view:
            await assert_eventually(
                lambda: _keys(view), lambda n: n == 2, what="both keys in the view"
            )
            verifier = TokenVerifier(view)
            old_issuer = TokenIssuer(old, agent_id="triage", version="1.0", instance="a")
            new_issuer = TokenIssuer(new, agent_id="triage", version="1.0", instance="b")
            assert verifier.verify(old_issuer.issue()).kid == old_issuer.kid
            await assert_eventually(
                lambda: _refusal(verifier, old_issuer),
                lambda r: r == "key_retired",
                timeout_s=10,
                what="old key retired after the grace",
            )
            assert verifier.verify(new_issuer.issue()).kid == new_issuer.kid


async def _keys(view: RegistryView) -> int:
    entry = view.lookup("triage", "1.0")
    return len(entry.keys) if entry else 0


async def test_second_registry_fences_the_first(settings: Settings) -> None:
    """Starting another registry makes the first unable to write (it answers 503 and stops)."""
    await _topics(settings)
    async with (
        registry_service(settings) as first,
        RegistryClient(_url(first), operator_token=OPERATOR) as old,
    ):
        await old.enroll(
            "triage", version="1", public_key=public_key_b64(generate_key()), capabilities=[]
        )
        async with (
            registry_service(settings) as second,
            RegistryClient(_url(second), operator_token=OPERATOR) as new,
        ):
            await new.enroll(
                "triage", version="2", public_key=public_key_b64(generate_key()), capabilities=[]
            )
            with pytest.raises(Exception) as fenced:  # noqa: PT011 - RegistryUnavailable (503)
                await old.enroll(
                    "other", version="1", public_key=public_key_b64(generate_key()), capabilities=[]
                )
            assert "registry_fenced" in str(fenced.value)
            assert set((await new.get("triage")).versions) == {"1", "2"}


async def test_agent_runtime_registers_and_heartbeats(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    """An agent with its key file shows up as an instance with a code digest and a heartbeat."""
    names = TopicNames(settings.topic_prefix)
    async with Admin(settings.kafka) as admin:
        await admin.ensure_topics(
            names.system_topics(partitions=1)
            + names.agent_topics("beater", partitions=1)
            + [TopicSpec(f"in.{unique}", 1)]
        )
    key = generate_key()
    key_file = write_private_key(key, tmp_path / "beater.key")
    agent = Agent("beater", topics=[f"in.{unique}"], version="3.1")

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        return None

    async with (
        registry_service(settings) as service,
        RegistryClient(_url(service), operator_token=OPERATOR) as client,
    ):
        await client.enroll(
            "beater", version="3.1", public_key=public_key_b64(key), capabilities=[]
        )
        agent_settings = AgentSettings(
            kafka=settings.kafka,
            topic_prefix=settings.topic_prefix,
            registry_url=_url(service),
            agent=AgentRuntimeSettings(
                instance="pod-7", http_port=0, key_file=key_file, heartbeat_s=0.2
            ),
        )
        async with running(agent, agent_settings):
            record = await assert_eventually(
                lambda: client.get("beater"),
                lambda r: "pod-7" in r.versions["3.1"].instances,
                what="instance registered",
            )
            first = record.versions["3.1"].instances["pod-7"].last_heartbeat
            later = await assert_eventually(
                lambda: client.get("beater"),
                lambda r: r.versions["3.1"].instances["pod-7"].last_heartbeat > first,
                what="a later heartbeat",
            )
    instance = later.versions["3.1"].instances["pod-7"]
    assert instance.code_digest is not None
    assert instance.code_digest.startswith("sha256:")


async def test_registry_and_views_survive_junk_records(settings: Settings) -> None:
    """Junk on lb.registry is skipped: a view and a restarted registry keep the good records."""
    await _topics(settings)
    topic = TopicNames(settings.topic_prefix).registry
    key = generate_key()
    async with (
        registry_service(settings) as service,
        RegistryClient(_url(service), operator_token=OPERATOR) as client,
    ):
        await client.enroll(
            "triage", version="1.0", public_key=public_key_b64(key), capabilities=[]
        )
    junk = [b"not json {", b'{"agent_id": "triage"}', b"", b"\xff\xfe", b"[]"]
    async with Producer(settings.kafka) as producer:
        for value in junk:
            for agent in (b"triage", b"ghost"):
                await producer.send(topic, value, key=agent)
        await producer.send(topic, None, key=b"never-enrolled")

    async with RegistryView(settings.kafka, topic) as view:
        assert [r.agent_id for r in view.agents()] == ["triage"]
    async with (
        registry_service(settings) as service,
        RegistryClient(_url(service), operator_token=OPERATOR) as client,
    ):
        assert [r.agent_id for r in await client.agents()] == ["triage"]
        record = await client.set_status("triage", "draining")
        assert record.revision == 2
        assert record.versions["1.0"].status == "draining"
