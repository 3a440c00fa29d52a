"""The lean ``tools/call`` path to Streamable HTTP MCP servers: taken for plain answers, the SDK's
answers exactly, never a second effect (real SDK servers: 2026-07-28, legacy JSON, legacy SSE)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import JsonValue

from longboat.gateway import GatewayService
from longboat.gateway._client import GatewayUnavailable
from longboat.registry import TokenIssuer
from tests.helpers import assert_eventually
from tests.integration.gateway.conftest import REPO, GatewayWorld, client, serving
from tests.integration.gateway.test_mcp_tools import _approve_all

SERVER = "tests.integration.gateway.mcp_lean_upstream"
METRIC = "longboat_gateway_mcp_tool_calls_total"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def _upstream(port: int, mode: str, counter: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "MCP_COUNTER_FILE": str(counter), "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", SERVER, str(port), mode],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.kill()
        process.wait()


async def _listening(port: int) -> str:
    async def up() -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        writer.close()
        return True

    await assert_eventually(up, bool, timeout_s=30, what="MCP server listening")
    return f"http://127.0.0.1:{port}/mcp"


def _tools(world: GatewayWorld, url: str) -> Path:
    """The same server twice: ``lean`` (the default) and ``sdk`` (``lean_calls: false``)."""
    tools = world.data_dir.parent / "lean-tools.json"
    lean = {"kind": "mcp", "transport": "http", "url": url}
    tools.write_text(json.dumps({"tools": {"lean": lean, "sdk": {**lean, "lean_calls": False}}}))
    return tools


async def _invoke(
    service: GatewayService, issuer: TokenIssuer, tool: str, arguments: JsonValue, key: str
) -> dict[str, Any]:
    async with client(service, issuer) as gw:
        return await gw.invoke(tool, arguments, idempotency_key=key)


def _paths(service: GatewayService, server: str) -> dict[str, float]:
    """How many ``tools/call`` of ``server`` took each path (the metric)."""
    found: dict[str, float] = {}
    for family in service.metrics.registry.collect():
        for sample in family.samples:
            if sample.name == METRIC and sample.labels["server"] == server:
                found[sample.labels["path"]] = sample.value
    return found


def _effects(counter: Path) -> list[str]:
    return sorted(counter.read_text().splitlines()) if counter.exists() else []


async def _both(
    service: GatewayService, issuer: TokenIssuer, tool: str, arguments: JsonValue, key: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    lean = await _invoke(service, issuer, f"lean.{tool}", arguments, f"{key}-lean")
    sdk = await _invoke(service, issuer, f"sdk.{tool}", arguments, f"{key}-sdk")
    lean.pop("decision_id")
    sdk.pop("decision_id")
    return lean, sdk


async def test_plain_and_streamed_answers_go_lean_with_the_sdk_paths_results(
    world: GatewayWorld, tmp_path: Path
) -> None:
    """A 2026-07-28 server: plain calls go lean, a streamed answer is read once, results equal."""
    counter = tmp_path / "effects.txt"
    await world.publish()
    issuer = await world.enroll("triage", "tool:lean", "tool:sdk")
    port = _free_port()
    with _upstream(port, "modern", counter):
        url = await _listening(port)
        async with serving(world, tools_file=_tools(world, url)) as service:
            await _approve_all(world, service)
            lean, sdk = await _both(service, issuer, "lookup", {"city": "Rome"}, "l")
            assert (
                lean
                == sdk
                == {
                    "result": {"city": "Rome", "weather": "sunny"},
                    "executed": True,
                    "pii": [],
                }
            )
            lean, sdk = await _both(service, issuer, "charge", {"amount": 2}, "c")
            assert lean["executed"]
            assert sdk["executed"]
            assert lean["result"]["amount"] == sdk["result"]["amount"] == 2
            again = await _invoke(service, issuer, "lean.charge", {"amount": 2}, "c-lean")
            assert not again["executed"]
            assert again["result"] == lean["result"]
            # The tool outlasts the server's JSON window, so it answers with an event stream.
            lean, sdk = await _both(service, issuer, "slow", {"text": "hi"}, "t")
            assert lean == sdk
            assert _paths(service, "lean") == {"lean": 2, "lean:event-stream": 1}
            assert _paths(service, "sdk") == {}
    assert _effects(counter) == [
        "charge 2 triage:c-lean",
        "charge 2 triage:c-sdk",
        "slow hi",
        "slow hi",
    ]


async def test_a_server_answering_with_event_streams_is_called_the_sdks_way(
    world: GatewayWorld, tmp_path: Path
) -> None:
    """A legacy server answering every POST with an event stream gets no lean call (counted)."""
    counter = tmp_path / "effects.txt"
    await world.publish()
    issuer = await world.enroll("triage", "tool:lean", "tool:sdk")
    port = _free_port()
    with _upstream(port, "legacy-sse", counter):
        url = await _listening(port)
        async with serving(world, tools_file=_tools(world, url)) as service:
            await _approve_all(world, service)
            lean, sdk = await _both(service, issuer, "lookup", {"city": "Oslo"}, "l")
            assert lean == sdk
            lean, sdk = await _both(service, issuer, "slow", {"text": "hi"}, "t")
            assert lean == sdk == {"result": {"result": "sent"}, "executed": True, "pii": []}
            assert _paths(service, "lean") == {"sdk:event-stream server": 2}
    assert _effects(counter) == ["slow hi", "slow hi"]


async def test_an_expired_session_answers_as_the_sdk_path_does(
    world: GatewayWorld, tmp_path: Path
) -> None:
    """A legacy server's session: lean calls carry it; once it is gone both paths answer alike."""
    counter = tmp_path / "effects.txt"
    port = _free_port()
    await world.publish()
    issuer = await world.enroll("triage", "tool:lean", "tool:sdk")
    with _upstream(port, "legacy-json", counter) as first:
        url = await _listening(port)
        async with serving(world, tools_file=_tools(world, url)) as service:
            await _approve_all(world, service)
            lean, sdk = await _both(service, issuer, "charge", {"amount": 4}, "c")
            assert lean["executed"]
            assert sdk["executed"]
            assert _paths(service, "lean") == {"lean": 1}
            # The server restarts: it forgets every session (404 Session not found).
            first.kill()
            first.wait()
            with _upstream(port, "legacy-json", counter):
                await _listening(port)
                refused: list[str] = []
                for server in ("lean", "sdk"):
                    with pytest.raises(GatewayUnavailable) as caught:
                        await _invoke(service, issuer, f"{server}.charge", {"amount": 5}, "x")
                    refused.append(str(caught.value).replace(f"server {server} ", "server S "))
            assert refused[0] == refused[1]
            assert "Session not found" in refused[0]
    assert _effects(counter) == ["charge 4 triage:c-lean", "charge 4 triage:c-sdk"]
