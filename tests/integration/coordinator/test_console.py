"""Mission Control's console over HTTP on the real stack: auth, roles, CSRF, fleet, governance."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from longboat import Settings, TopicNames
from longboat.gateway import DECISION_RECORDS, DecisionRecord
from longboat.kafka import Producer
from longboat.registry import (
    AGENT_RECORDS,
    AgentKey,
    AgentRecord,
    InstanceInfo,
    VersionEntry,
    generate_key,
    key_id,
    public_key_b64,
)
from tests.helpers import assert_eventually
from tests.integration.agents.conftest import running
from tests.integration.coordinator.test_coordinator import (
    OPERATOR,
    OPERATOR_TOKEN,
    _claims,
    _setup,
    _specialists,
    _status,
    coordinator,
)


def _agent(name: str, instances: dict[str, datetime]) -> AgentRecord:
    public = public_key_b64(generate_key())
    now = datetime.now(UTC)
    key = AgentKey(kid=key_id(public), public_key=public, created_at=now)
    infos = {
        i: InstanceInfo(instance=i, started_at=beat, last_heartbeat=beat)
        for i, beat in instances.items()
    }
    version = VersionEntry(version="1.0", keys=(key,), enrolled_at=now, instances=infos)
    return AgentRecord(agent_id=name, versions={"1.0": version}, updated_at=now)


def _decision(agent: str, allow: bool, reason: str) -> DecisionRecord:
    return DecisionRecord.model_validate(
        {
            "decision_id": f"d-{agent}-{allow}",
            "time": datetime.now(UTC).isoformat(),
            "gateway": "g1",
            "policy_digest": "sha256:" + "ab" * 32,
            "input": {
                "agent": {
                    "id": agent,
                    "version": "1.0",
                    "status": "active",
                    "capabilities": [],
                    "risk_tier": "medium",
                    "owner": "ops",
                },
                "action": "memory.write",
                "resource": {"kind": "memory", "name": "claims"},
                "context": {},
            },
            "decision": {"allow": allow, "reasons": [reason]},
            "duration_ms": 1.0,
            "source": "opa",
        }
    )


async def _seed(settings: Settings, agent: str) -> None:
    names = TopicNames(settings.topic_prefix)
    fresh, old = datetime.now(UTC), datetime.now(UTC) - timedelta(minutes=10)
    record = _agent(agent, {"alive-0": fresh, "killed-1": old})
    async with Producer(settings.kafka) as producer:
        await producer.send(names.registry, AGENT_RECORDS.encode(record), key=agent.encode())
        for allow, reason in ((True, "bank allowed"), (False, "pii not allowed in claims")):
            value = DECISION_RECORDS.encode(_decision(agent, allow, reason))
            await producer.send(names.decisions, value, key=agent.encode())


async def _json(response: aiohttp.ClientResponse) -> Any:
    return await response.json(content_type=None)


async def test_unauthenticated_visitors_see_nothing_and_cannot_signal(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    """Without a token or session every API route is 401; the page shell carries no data."""
    _, folder = await _setup(settings, tmp_path, unique)
    async with coordinator(settings, folder) as service, aiohttp.ClientSession() as http:
        base = f"http://127.0.0.1:{service.port}"
        for path in ("/v1/inbox", "/v1/workflows", "/v1/fleet", "/v1/decisions", "/v1/stream"):
            async with http.get(base + path) as response:
                assert response.status == 401, path
                assert (await _json(response))["error"] == "unauthenticated"
        body = {"signal": "approve", "by": "mallory"}
        async with http.post(f"{base}/v1/workflows/x/signals", json=body) as response:
            assert response.status == 401
        bad = {"Authorization": "Bearer not-the-operator-token"}
        async with http.get(f"{base}/v1/inbox", headers=bad) as response:
            assert response.status == 401
        async with http.post(f"{base}/login", json={"token": "wrong", "name": "m"}) as response:
            assert response.status == 401
        async with http.get(f"{base}/") as page:
            assert page.status == 200
            assert "default-src 'self'" in page.headers["Content-Security-Policy"]
            assert "workflow_id" not in await page.text()


async def test_a_session_approves_with_csrf_and_is_recorded_by_name(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    """Login sets an HttpOnly cookie; a POST without the CSRF token is refused; with it the
    approval resumes the workflow and the history names the logged-in operator."""
    world, folder = await _setup(settings, tmp_path, unique)
    triage, payments = _specialists([])
    async with (
        coordinator(settings, folder) as service,
        running(triage, world.agent_settings(instance="s1")),
        running(payments, world.agent_settings(instance="s2")),
        # unsafe=True: aiohttp's jar keeps no cookies of IP hosts otherwise (browsers do).
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
    ):
        await _claims(world, ("c-big", 5000))
        await assert_eventually(
            lambda: _status(service, "c-big"),
            lambda s: s == "waiting_approval",
            timeout_s=60,
            what="claim waiting",
        )
        base = f"http://127.0.0.1:{service.port}"
        login = {"token": OPERATOR_TOKEN, "name": "carol"}
        async with http.post(f"{base}/login", json=login) as response:
            assert response.status == 200
            session = await _json(response)
            assert "HttpOnly" in response.headers["Set-Cookie"]
            assert "SameSite=Strict" in response.headers["Set-Cookie"]
        assert (session["name"], session["role"]) == ("carol", "approver")
        async with http.get(f"{base}/v1/inbox") as response:
            inbox = await _json(response)
        assert [w["workflow_id"] for w in inbox["needs_input"]] == ["c-big"]
        url = f"{base}/v1/workflows/c-big/signals"
        body = {"signal": "approve", "by": "someone-else", "note": "ok"}
        async with http.post(url, json=body) as response:
            assert response.status == 403
            assert (await _json(response))["error"] == "csrf"
        evil = {"X-CSRF-Token": session["csrf"], "Origin": "http://evil.example"}
        async with http.post(url, json=body, headers=evil) as response:
            assert response.status == 403
        async with http.post(url, json=body, headers={"X-CSRF-Token": session["csrf"]}) as response:
            assert response.status == 202
        await assert_eventually(
            lambda: _status(service, "c-big"),
            lambda s: s == "completed",
            timeout_s=60,
            what="approved claim completed",
        )
        record = service.engine.record("c-big")
        assert record is not None
        assert record.state.steps["review"].decided_by == "carol"  # the session's name, not "by"


async def test_a_viewer_reads_but_cannot_approve(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    """The viewer token reads every view; its state-changing requests are 403."""
    _, folder = await _setup(settings, tmp_path, unique)
    viewer_file = tmp_path / "viewer-token"
    viewer_file.write_text("viewer-token-0123456789abcdef\n")
    async with (
        coordinator(settings, folder, viewer_token_file=viewer_file) as service,
        aiohttp.ClientSession(
            headers={"Authorization": "Bearer viewer-token-0123456789abcdef"}
        ) as http,
    ):
        base = f"http://127.0.0.1:{service.port}"
        async with http.get(f"{base}/v1/session") as response:
            assert (await _json(response))["role"] == "viewer"
        async with http.get(f"{base}/v1/inbox") as response:
            assert response.status == 200
        body = {"signal": "approve", "by": "v"}
        async with http.post(f"{base}/v1/workflows/x/signals", json=body) as response:
            assert response.status == 403
            assert (await _json(response))["error"] == "forbidden"


async def test_fleet_and_governance_views(settings: Settings, tmp_path: Path, unique: str) -> None:
    """The fleet view marks an instance without heartbeats stale; decisions filter by result."""
    _, folder = await _setup(settings, tmp_path, unique)
    agent = f"cons{unique}"[:40]
    await _seed(settings, agent)
    async with (
        coordinator(settings, folder) as service,
        aiohttp.ClientSession(headers=OPERATOR) as http,
    ):
        base = f"http://127.0.0.1:{service.port}"

        async def fleet() -> dict[str, Any]:
            async with http.get(f"{base}/v1/fleet") as response:
                body: dict[str, Any] = await _json(response)
                return body

        found = await assert_eventually(
            fleet,
            lambda f: any(a["agent_id"] == agent for a in f["agents"]),
            what="agent in fleet view",
        )
        row = next(a for a in found["agents"] if a["agent_id"] == agent)
        stale = {i["instance"]: i["stale"] for i in row["versions"][0]["instances"]}
        assert stale == {"alive-0": False, "killed-1": True}
        async with http.get(f"{base}/v1/decisions", params={"agent": agent}) as response:
            every = (await _json(response))["decisions"]
        assert len(every) == 2
        query = {"agent": agent, "allow": "false"}
        async with http.get(f"{base}/v1/decisions", params=query) as response:
            denied = (await _json(response))["decisions"]
        assert [d["decision"]["reasons"] for d in denied] == [["pii not allowed in claims"]]
        async with http.get(f"{base}/v1/dead-letters", params={"agent": agent}) as response:
            assert (await _json(response)) == {"dead_letters": []}
        async with http.get(f"{base}/v1/stream") as stream:
            assert stream.headers["Content-Type"].startswith("text/event-stream")
            first = await stream.content.readline()
        assert first == b"event: changed\n"


async def test_an_open_live_stream_ends_when_the_coordinator_stops(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    """Shutdown ends open server-sent-event streams instead of waiting on the page."""
    _, folder = await _setup(settings, tmp_path, unique)
    async with aiohttp.ClientSession(headers=OPERATOR) as http:
        async with coordinator(settings, folder) as service:
            base = f"http://127.0.0.1:{service.port}"
            stream = await http.get(f"{base}/v1/stream")
            assert await stream.content.readline() == b"event: changed\n"
            # Leaving the block shuts the coordinator down with the stream still open.
        # aiohttp would otherwise wait 60 s for the handler, then cancel it mid-write; the
        # stream ends cleanly instead: everything the server wrote, then end of stream.
        rest = await asyncio.wait_for(stream.content.read(), timeout=30)
        stream.release()
    assert rest.endswith(b"\n\n")
