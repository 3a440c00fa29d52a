"""Reconcile hooks: an in-doubt call of a non-idempotent MCP tool is checked with a read-only
tool of its server, not refused (real gateway, Kafka, OPA and upstream MCP server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from longboat.errors import ConfigError
from tests.integration.gateway.conftest import GatewayWorld, serving
from tests.integration.gateway.test_mcp_tools import (
    _approve_all,
    _effects,
    _invoke,
    _start,
    _stdio_tools,
)


def _hooked(world: GatewayWorld, counter: Path, hook: dict[str, object]) -> Path:
    """The counting upstream server with ``reconcile: {"pay": hook}``."""
    path = _stdio_tools(world, counter)
    tools = json.loads(path.read_text())
    tools["tools"]["files"]["reconcile"] = {"pay": hook}
    path.write_text(json.dumps(tools))
    return path


async def test_in_doubt_calls_are_reconciled_by_the_hook(
    world: GatewayWorld, tmp_path: Path
) -> None:
    """In doubt, with a hook: an effect that happened is answered with its result (no second
    effect); one that did not happen runs now, once."""
    counter = tmp_path / "effects.txt"
    await world.publish()
    issuer = await world.enroll("triage", "tool:files")
    tools = _hooked(world, counter, {"tool": "lookup_payment"})
    async with serving(world, tools_file=tools) as service:
        await _approve_all(world, service)
    # What a gateway SIGKILLed mid-call leaves: "a" took effect upstream, "b" never arrived.
    counter.write_text("pay 5 triage:a\n")
    await _start(world, "triage:a", "files.pay")
    await _start(world, "triage:b", "files.pay")
    async with serving(world, tools_file=tools) as service:
        happened = await _invoke(service, issuer, "files.pay", {"amount": 5}, "a")
        again = await _invoke(service, issuer, "files.pay", {"amount": 5}, "a")
        missing = await _invoke(service, issuer, "files.pay", {"amount": 7}, "b")
    assert happened["result"] == again["result"] == {"receipt": "p-1", "amount": 5}
    assert not happened["executed"]
    assert missing["executed"]
    assert missing["result"] == {"receipt": "p-2", "amount": 7}
    assert _effects(counter) == ["pay 5 triage:a", "pay 7 triage:b"]


@pytest.mark.parametrize(
    ("hook", "problem"),
    [
        ({"tool": "send"}, "tools.files.reconcile.pay: send is not annotated readOnlyHint"),
        ({"tool": "nothing"}, "tools.files.reconcile.pay: server files serves no tool 'nothing'"),
    ],
)
async def test_a_hook_naming_a_writing_or_missing_tool_stops_the_gateway(
    world: GatewayWorld, tmp_path: Path, hook: dict[str, object], problem: str
) -> None:
    """A reconcile tool must exist and be read-only: the gateway refuses to start, naming it."""
    await world.publish()
    with pytest.raises(ConfigError, match=problem):
        async with serving(world, tools_file=_hooked(world, tmp_path / "c.txt", hook)):
            pass
