"""The policy gateway against real OPA and Kafka: decisions, PII, tools, hot policies, outages."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import aiohttp
import pytest

from longboat.gateway import DECISION_RECORDS, MEMORY_AUDITS, DecisionRecord, PolicyDenied
from longboat.gateway._client import GatewayRefused, GatewayUnavailable
from tests.helpers import assert_eventually
from tests.integration.agents.conftest import read_all
from tests.integration.gateway import tools_for_tests
from tests.integration.gateway.conftest import POLICIES, GatewayWorld, client, serving


async def _decisions(world: GatewayWorld) -> list[DecisionRecord]:
    return [
        DECISION_RECORDS.decode_value(r.value or b"")
        for r in await read_all(world.settings.kafka, world.names.decisions)
    ]


async def test_memory_allowed_by_capability_denied_without(world: GatewayWorld) -> None:
    """An agent reads and writes its declared bank, is denied others; every decision is logged."""
    issuer = await world.enroll("triage", "memory:claims")
    bundle = await world.publish()
    async with serving(world) as gateway, client(gateway, issuer) as gw:
        assert (
            await gw.memory_put("claims", "c-1", {"note": "water damage"}, workflow_id="wf-1") == 1
        )
        assert await gw.memory_get("claims", "c-1") == {"note": "water damage"}
        assert [i["key"] for i in await gw.memory_search("claims", "water")] == ["c-1"]
        with pytest.raises(PolicyDenied) as denied:
            await gw.memory_get("customers", "x")
        assert denied.value.reasons == ["no capability grants this access"]
        assert await gw.profile_put("style", "terse") == 1
        assert await gw.profile_get("style") == "terse"
    decisions = await assert_eventually(
        lambda: _decisions(world), lambda d: len(d) >= 6, what="decision log"
    )
    assert {d.policy_digest for d in decisions} == {bundle.digest}
    assert sorted((d.input.action, d.decision.allow) for d in decisions) == sorted(
        [
            ("memory.write", True),
            ("memory.read", True),
            ("memory.search", True),
            ("memory.read", False),
            ("profile.write", True),
            ("profile.read", True),
        ]
    )


async def test_pii_write_refused_and_nothing_stored(world: GatewayWorld) -> None:
    """A card number into a bank not classified for it: 403, nothing stored, no audit record."""
    issuer = await world.enroll("triage", "memory:claims")
    await world.publish()
    async with serving(world) as gateway, client(gateway, issuer) as gw:
        with pytest.raises(PolicyDenied) as denied:
            await gw.memory_put("claims", "c-2", {"card": "4111 1111 1111 1111"})
        assert denied.value.reasons == ["bank claims is not classified for payment_card"]
        assert await gw.memory_get("claims", "c-2") is None
        await gw.memory_put("claims", "c-3", {"contact": "jane@example.com"}, workflow_id="wf-9")
    audit = [
        MEMORY_AUDITS.decode_value(r.value or b"")
        for r in await read_all(world.settings.kafka, world.names.memory_audit)
    ]
    assert [(a.key, a.pii, a.provenance.agent, a.provenance.workflow_id) for a in audit] == [
        ("c-3", ["email"], "triage", "wf-9")
    ]
    memory = await read_all(world.settings.kafka, world.names.memory)
    assert [r.key for r in memory] == [b"claims/c-3"]


async def test_tool_call_executes_once_across_retries_and_restart(world: GatewayWorld) -> None:
    """One idempotency key: one execution, then the recorded result, even after a restart."""
    tools_for_tests.CALLS.clear()
    issuer = await world.enroll("payer", "tool:payments")
    await world.publish()
    async with serving(world) as gateway, client(gateway, issuer) as gw:
        first = await gw.invoke("payments", {"amount": 120}, idempotency_key="fp-1")
        again = await gw.invoke("payments", {"amount": 120}, idempotency_key="fp-1")
        with pytest.raises(PolicyDenied):
            await gw.invoke("weather", {}, idempotency_key="fp-2")
    assert first["executed"] is True
    assert again["executed"] is False
    assert again["result"] == first["result"]
    async with serving(world) as gateway, client(gateway, issuer) as gw:
        after_restart = await gw.invoke("payments", {"amount": 120}, idempotency_key="fp-1")
    assert after_restart["executed"] is False
    assert after_restart["result"] == first["result"]
    assert len(tools_for_tests.CALLS) == 1
    assert tools_for_tests.CALLS[0][1] == "payer:fp-1"


async def test_opa_down_denies_everything_and_recovers(world: GatewayWorld) -> None:
    """OPA stopped: refused as retryable 503s, nothing written, gateway alive; OPA back: allowed."""
    issuer = await world.enroll("triage", "memory:claims")
    await world.publish()
    async with serving(world) as gateway, client(gateway, issuer) as gw:
        await gw.memory_put("claims", "before", 1)
        world.stop_opa()
        # Fail closed, but not a policy's verdict: the agent's step retries instead of failing.
        unavailable = r"503.*policy_unavailable.*policy engine unavailable"
        with pytest.raises(GatewayUnavailable, match=unavailable):
            await gw.memory_put("claims", "during", 2)
        base = f"http://127.0.0.1:{gateway.port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/livez") as live:
                assert live.status == 200
            async with http.get(f"{base}/readyz") as ready:
                assert ready.status == 503
        world.restart_opa()  # a fresh, empty OPA: the gateway reloads the active bundle into it

        async def written() -> bool:
            try:
                await gw.memory_put("claims", "after", 3)
            except (GatewayUnavailable, PolicyDenied):  # down; then up, bundle not yet reloaded
                return False
            return True

        await assert_eventually(written, bool, timeout_s=20, interval_s=0.2, what="allowed again")
        assert await gw.memory_get("claims", "during") is None
        assert await gw.memory_get("claims", "after") == 3


async def test_new_policy_applies_without_restart_and_broken_one_is_refused(
    world: GatewayWorld, tmp_path: Path
) -> None:
    """Publishing changes running decisions within ~a second; a broken bundle keeps the old one."""
    issuer = await world.enroll("triage", "memory:claims")
    await world.publish()
    changed = tmp_path / "policies"
    shutil.copytree(POLICIES, changed)
    data = json.loads((changed / "longboat/config/data.json").read_text())
    data["banks"]["claims"]["pii"].append("payment_card")
    (changed / "longboat/config/data.json").write_text(json.dumps(data))
    async with serving(world) as gateway, client(gateway, issuer) as gw:
        with pytest.raises(PolicyDenied):
            await gw.memory_put("claims", "card", "4111 1111 1111 1111")
        published_at = time.monotonic()
        new = await world.publish(changed)

        async def allowed() -> bool:
            try:
                await gw.memory_put("claims", "card", "4111 1111 1111 1111")
            except PolicyDenied:
                return False
            return True

        await assert_eventually(
            allowed, bool, timeout_s=20, interval_s=0.02, what="new policy in force"
        )
        elapsed_ms = 1000 * (time.monotonic() - published_at)
        print(f"new policy in force {elapsed_ms:.0f} ms after publish")  # noqa: T201

        async def reported() -> str | None:
            active = gateway.policies.active
            return None if active is None else active.digest

        # The data module can decide before the gateway records the whole bundle as active (it
        # loads module by module): the digest it reports follows within the same poll window.
        await assert_eventually(
            reported, lambda d: d == new.digest, timeout_s=20, what="new digest reported"
        )

        (changed / "longboat/gateway.rego").write_text("package longboat.gateway\n\nallow if {\n")
        await world.publish(changed)
        await assert_eventually(
            lambda: _status_error(gateway), bool, timeout_s=20, what="broken bundle refused"
        )
        assert await reported() == new.digest
        await gw.memory_put(
            "claims", "still", "4111 1111 1111 1111"
        )  # the previous policy still decides


async def _status_error(gateway: object) -> bool:
    status = gateway.policies.status  # type: ignore[attr-defined]
    return status is not None and not status.ok


async def test_forged_and_revoked_tokens_get_401(world: GatewayWorld) -> None:
    """No token, a forged token and a revoked agent's token are refused before any decision."""
    from longboat.registry import TokenIssuer, generate_key

    issuer = await world.enroll("triage", "memory:claims")
    await world.publish()
    async with serving(world) as gateway:
        forger = TokenIssuer(generate_key(), agent_id="triage", version="1.0", instance="x")
        async with client(gateway, forger) as gw:
            with pytest.raises(GatewayRefused, match="401"):
                await gw.memory_get("claims", "x")
        await world.enroll("mallory", "memory:claims", status="revoked")
        async with client(gateway, world.issuers["mallory"]) as gw:

            async def refused() -> bool:
                try:
                    await gw.memory_get("claims", "x")
                except GatewayRefused as e:
                    return "identity_revoked" in str(e)
                return False

            await assert_eventually(refused, bool, what="revoked agent refused")
        url = f"http://127.0.0.1:{gateway.port}/v1/memory/claims/x"
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            assert response.status == 401
        async with client(gateway, issuer) as gw:
            assert (
                await gw.memory_get("claims", "x") is None
            )  # the genuine agent still gets through


async def test_http_tool_gets_the_key_and_transient_failures_are_retryable(
    world: GatewayWorld, tmp_path: Path
) -> None:
    """An HTTP tool receives the idempotency key; its 503 becomes a retryable 503, not recorded."""
    from aiohttp import web

    from longboat.devinfra import free_port
    from longboat.gateway._client import GatewayUnavailable

    seen: list[tuple[str, object]] = []
    failures = [503]

    async def lookup(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append((request.headers["Idempotency-Key"], body["arguments"]))
        if failures:
            return web.Response(status=failures.pop())
        return web.json_response({"forecast": "rain"})

    app = web.Application()
    app.router.add_post("/weather", lookup)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    world.tools_file.write_text(
        json.dumps(
            {"tools": {"weather": {"kind": "http", "url": f"http://127.0.0.1:{port}/weather"}}}
        )
    )
    issuer = await world.enroll("planner", "tool:weather")
    await world.publish()
    try:
        async with serving(world) as gateway, client(gateway, issuer) as gw:
            with pytest.raises(GatewayUnavailable, match="503"):
                await gw.invoke("weather", {"city": "Oslo"}, idempotency_key="fp-9")
            answer = await gw.invoke("weather", {"city": "Oslo"}, idempotency_key="fp-9")
            again = await gw.invoke("weather", {"city": "Oslo"}, idempotency_key="fp-9")
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"http://127.0.0.1:{gateway.port}/metrics") as m,
            ):
                metrics = await m.text()
    finally:
        await runner.cleanup()
    assert answer["result"] == {"forecast": "rain"}
    assert answer["executed"] is True
    assert again["executed"] is False
    assert seen == [("planner:fp-9", {"city": "Oslo"}), ("planner:fp-9", {"city": "Oslo"})]
    assert 'longboat_gateway_decisions_total{result="allow",source="opa"} 3.0' in metrics
    assert 'longboat_gateway_tool_calls_total{executed="false",tool="weather"} 1.0' in metrics
