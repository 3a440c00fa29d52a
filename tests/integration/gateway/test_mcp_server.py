"""The gateway as an MCP server: the official SDK's client against ``/mcp`` of a live gateway
(real Kafka, real OPA, a real upstream MCP server counting its effects)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, RequestParamsMeta

from longboat.gateway import DECISION_RECORDS, AgentTokenAuth, GatewayService
from longboat.kafka import read_decoded
from longboat.registry import TokenIssuer, write_private_key
from tests.integration.gateway.conftest import REPO, GatewayWorld, serving
from tests.integration.gateway.test_mcp_tools import _approve_all, _effects, _stdio_tools


@asynccontextmanager
async def mcp_client(
    url: str, issue: Callable[[], str], mode: str = "auto"
) -> AsyncIterator[Client]:
    """What docs/tools.md shows: the SDK's client, a fresh agent token on every request."""
    http = httpx2.AsyncClient(auth=AgentTokenAuth(issue), timeout=60)
    transport = streamable_http_client(url, http_client=http)
    async with http, Client(transport, mode=mode) as client:
        yield client


def _url(service: GatewayService) -> str:
    return f"http://127.0.0.1:{service.port}/mcp"


@asynccontextmanager
async def _as(
    service: GatewayService, issuer: TokenIssuer, mode: str = "auto"
) -> AsyncIterator[Client]:
    async with mcp_client(_url(service), issuer.issue, mode) as client:
        yield client


def _keyed(key: str) -> RequestParamsMeta:
    return {"io.longboat/idempotency-key": key}  # type: ignore[typeddict-unknown-key]


def _error(result: CallToolResult) -> dict[str, Any]:
    assert result.is_error, result
    assert isinstance(result.structured_content, dict)
    return result.structured_content


# Well-formed JSON that is not a valid MCP request: protocol errors, never a 5xx.
_JUNK_RPC = [
    b"[]",
    b'[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]',
    b'"just a string"',
    b'{"jsonrpc": "2.0", "id": 1, "method": "no/such"}',
    b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": 5}}',
    b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call",'
    b' "params": {"name": "files.lookup", "arguments": [1]}}',
    b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call",'
    b' "params": {"name": "files.lookup", "arguments": {"city": "x"}, "_meta": 7}}',
]


@pytest.fixture
def counter(tmp_path: Path) -> Path:
    return tmp_path / "effects.txt"


def _tools(world: GatewayWorld, counter: Path) -> Path:
    """The counting upstream MCP server ``files`` and a Python tool ``weather``."""
    path = _stdio_tools(world, counter)
    tools = json.loads(path.read_text())
    weather = {"kind": "python", "callable": "tests.integration.gateway.tools_for_tests:charge"}
    tools["tools"]["weather"] = weather
    path.write_text(json.dumps(tools))
    return path


async def test_mcp_endpoint_refuses_missing_and_bad_tokens_and_hostile_bodies(
    world: GatewayWorld, counter: Path
) -> None:
    """No token, a forged token, a revoked agent's token, oversized and non-JSON bodies and
    other methods than POST get clear 4xx answers."""
    await world.publish()
    issuer = await world.enroll("triage", "tool:files")
    revoked = await world.enroll("gone", "tool:files", status="revoked")
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    async with (
        serving(world, tools_file=_tools(world, counter)) as service,
        aiohttp.ClientSession() as http,
    ):
        async with http.post(_url(service), json=ping) as missing:
            assert missing.status == 401
            assert (await missing.json())["error"] == "unauthenticated"
            assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        forged = {"Authorization": "Bearer not-a-token"}
        async with http.post(_url(service), json=ping, headers=forged) as bad:
            assert bad.status == 401
            assert (await bad.json())["error"].startswith("identity_")
        dead = {"Authorization": f"Bearer {revoked.issue()}"}
        async with http.post(_url(service), json=ping, headers=dead) as refused_agent:
            assert refused_agent.status == 401
            assert (await refused_agent.json())["error"] == "identity_revoked"

        def auth() -> dict[str, str]:  # tokens are single-use
            return {"Authorization": f"Bearer {issuer.issue()}", "Content-Type": "application/json"}

        async with http.post(_url(service), data=b"x" * 300_000, headers=auth()) as big:
            assert big.status == 413
        async with http.post(_url(service), data=b'{"a": NaN}', headers=auth()) as junk:
            assert junk.status == 400
            assert (await junk.json())["error"] == "json_invalid"
        odd = {**auth(), "X-Note": "€ ☃"}  # not Latin-1: still an ordinary request
        async with http.post(_url(service), json=ping, headers=odd) as noted:
            assert noted.status < 500
        for era in ({}, {"MCP-Protocol-Version": "2026-07-28"}):
            for junk_rpc in _JUNK_RPC:
                headers = {**auth(), "Accept": "application/json, text/event-stream", **era}
                async with http.post(_url(service), data=junk_rpc, headers=headers) as answer:
                    assert answer.status < 500, (junk_rpc, era, await answer.text())
        stream = {**auth(), "Accept": "text/event-stream"}
        async with http.get(_url(service), headers=stream) as get:  # no stream held open
            assert get.status == 405
            assert get.headers["Allow"] == "POST"
        with pytest.raises(Exception) as refused:  # noqa: PT011 - the SDK's own error types vary
            async with mcp_client(_url(service), lambda: "not-a-token") as client:
                await client.list_tools()
        assert "MCPError" in repr(refused.value)  # the SDK reports the 401 as a failed request


async def test_each_agent_lists_only_the_tools_its_policy_lets_it_call(
    world: GatewayWorld, counter: Path
) -> None:
    """tools/list: approved definitions only, filtered per agent by policy, schemas and
    annotations carried; a gateway Python tool listed with an open object schema."""
    await world.publish()
    triage = await world.enroll("triage", "tool:files")
    intern = await world.enroll("intern", "tool:files", "tool:weather", risk_tier="low")
    async with serving(world, tools_file=_tools(world, counter)) as service:
        async with _as(service, triage) as client:
            assert (await client.list_tools()).tools == []  # nothing approved yet
        await _approve_all(world, service)
        async with _as(service, triage) as client:
            mine = {t.name: t for t in (await client.list_tools(cache_mode="refresh")).tools}
        async with _as(service, intern) as client:
            theirs = {t.name: t for t in (await client.list_tools(cache_mode="refresh")).tools}
    everything = ["files.charge", "files.lookup", "files.lookup_payment", "files.pay"]
    everything += ["files.remember", "files.send"]
    assert sorted(mine) == everything
    # Low tier: the destructive charge is not shown; the Python tool it holds is.
    assert sorted(theirs) == [*everything[1:], "weather"]
    lookup = mine["files.lookup"]
    assert lookup.input_schema["properties"]["city"]["type"] == "string"
    assert lookup.annotations is not None
    assert lookup.annotations.read_only_hint is True
    assert theirs["weather"].input_schema["type"] == "object"
    listed = [
        r.value
        async for r in read_decoded(world.settings.kafka, world.names.decisions, DECISION_RECORDS)
        if r.value is not None and r.value.input.action == "tool.list"
    ]
    refused = [d for d in listed if d.input.agent.id == "intern" and not d.decision.allow]
    assert [d.input.resource.name for d in refused] == ["files.charge"]


async def test_mcp_calls_take_the_governed_path(world: GatewayWorld, counter: Path) -> None:
    """tools/call: allowed calls run and are logged; denials and PII come back as tool errors
    with the reason, before any effect."""
    await world.publish()
    triage = await world.enroll("triage", "tool:files")
    stranger = await world.enroll("stranger", "tool:crm")
    async with serving(world, tools_file=_tools(world, counter)) as service:
        await _approve_all(world, service)
        async with _as(service, triage) as client:
            traced = {"io.longboat/workflow-id": "wf-9", "io.longboat/run-id": "run-9"}
            looked = await client.call_tool(
                "files.lookup",
                {"city": "Oslo"},
                meta=traced,  # type: ignore[arg-type]
            )
            pii = await client.call_tool("files.remember", {"text": "mail alice@example.com"})
            unknown = await client.call_tool("files.nothing", {})
        async with _as(service, stranger) as client:
            denied = await client.call_tool("files.lookup", {"city": "Oslo"})
    assert not looked.is_error
    assert looked.structured_content == {"city": "Oslo", "weather": "sunny"}
    assert looked.meta is not None
    decision_id = looked.meta["io.longboat/decision-id"]
    assert _error(pii)["error"] == "policy_denied"
    assert _error(pii)["reasons"] == ["tool files.remember may not receive email"]
    assert _error(denied)["reasons"] == ["no capability grants this access"]
    assert "no capability grants this access" in str(denied.content[0])
    assert _error(unknown)["error"] in {"policy_denied", "tool_unknown"}
    assert _effects(counter) == []  # lookup counts nothing; the refused ones never ran
    logged = {
        r.value.decision_id: r.value
        async for r in read_decoded(world.settings.kafka, world.names.decisions, DECISION_RECORDS)
        if r.value is not None
    }
    assert logged[decision_id].input.action == "tool.invoke"
    assert logged[decision_id].input.agent.id == "triage"
    assert logged[decision_id].decision.allow
    assert logged[decision_id].input.context.workflow_id == "wf-9"
    assert logged[decision_id].input.context.run_id == "run-9"


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_the_same_idempotency_key_takes_one_effect(
    world: GatewayWorld, counter: Path, mode: str
) -> None:
    """_meta io.longboat/idempotency-key: the same key twice is one upstream effect; without
    a key each request is its own call (at most once per request); both protocol eras."""
    await world.publish()
    triage = await world.enroll("triage", "tool:files")
    async with serving(world, tools_file=_tools(world, counter)) as service:
        await _approve_all(world, service)
        async with _as(service, triage, mode) as client:
            first = await client.call_tool("files.charge", {"amount": 4}, meta=_keyed("pay-1"))
            again = await client.call_tool("files.charge", {"amount": 4}, meta=_keyed("pay-1"))
            await client.call_tool("files.send", {"text": "a"})
            await client.call_tool("files.send", {"text": "a"})
            bad = await client.call_tool("files.send", {"text": "b"}, meta=_keyed(""))
    assert first.structured_content == again.structured_content
    assert first.structured_content == {"receipt": "r-1", "amount": 4, "key": "triage:pay-1"}
    assert first.meta is not None
    assert first.meta["io.longboat/executed"] is True
    assert again.meta is not None
    assert again.meta["io.longboat/executed"] is False
    assert _error(bad)["error"] == "invalid_request"
    assert _effects(counter) == ["charge 4 triage:pay-1", "send a", "send a"]


def _documented_snippet() -> str:
    """The Python block docs/tools.md marks as tested."""
    text = (REPO / "docs" / "tools.md").read_text()
    marker = "<!-- tested: tests/integration/gateway/test_mcp_server.py runs this block -->"
    after = text.split(marker, 1)[1]
    return after.split("```python\n", 1)[1].split("```", 1)[0]


async def test_the_documented_client_snippet_works(
    world: GatewayWorld, counter: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/tools.md's MCP client snippet, run as written: lists, then charges once per key."""
    await world.publish()
    issuer = await world.enroll("triage", "tool:files")
    key_file = tmp_path / "triage.key"
    write_private_key(issuer._key, key_file)  # as `longboat agents enroll` writes it
    namespace: dict[str, Any] = {}
    exec(compile(_documented_snippet(), "docs/tools.md", "exec"), namespace)  # noqa: S102
    async with serving(world, tools_file=_tools(world, counter)) as service:
        await _approve_all(world, service)
        url = f"http://127.0.0.1:{service.port}"
        await namespace["charge_once"](url, key_file)
        await namespace["charge_once"](url, key_file)
    printed = capsys.readouterr().out.splitlines()
    receipts = [line for line in printed if "receipt" in line]
    assert len(receipts) == 2
    assert receipts[0] == receipts[1]
    assert "files.charge" in receipts[0]
    assert "False {'receipt': 'r-1'" in receipts[0]
    assert _effects(counter) == ["charge 5 triage:order-17"]
