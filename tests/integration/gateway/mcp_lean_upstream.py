"""An upstream MCP server (official ``mcp`` SDK, Streamable HTTP) for the lean ``tools/call`` tests.

``python -m tests.integration.gateway.mcp_lean_upstream PORT MODE``; MODE is ``modern`` (the
SDK's defaults: 2026-07-28, JSON unless a handler streams), ``legacy-json`` or ``legacy-sse``
(``server/discover`` refused, so clients fall back to the ``initialize`` handshake and get an
``Mcp-Session-Id``; answers as JSON or as event streams). Every call that takes effect appends
one line to ``$MCP_COUNTER_FILE``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from mcp import MCPError
from mcp.server import _streamable_http_modern
from mcp.server.mcpserver import MCPServer
from mcp.types import METHOD_NOT_FOUND, RequestParams, ToolAnnotations

server = MCPServer("lean")
# A 2026-07-28 server answers JSON unless a handler runs silent past this window (15 s in the
# SDK; shortened so a test's tool outlasts it and the answer comes as an event stream).
_STREAM_AFTER_S = 0.1


def _count(line: str) -> int:
    path = Path(os.environ["MCP_COUNTER_FILE"])
    with path.open("a") as counter:
        counter.write(line + "\n")
    return len(path.read_text().splitlines())


@server.tool(
    description="Look up the weather of a city.",
    annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
)
def lookup(city: str) -> dict[str, str]:
    """Answer without side effects."""
    return {"city": city, "weather": "sunny"}


@server.tool(
    description="Charge an amount; takes effect once per idempotency key.",
    annotations=ToolAnnotations(destructive_hint=True, idempotent_hint=False),
)
def charge(amount: int, idempotency_key: str = "") -> dict[str, object]:
    """Count the charge (the side effect) and return a receipt."""
    count = _count(f"charge {amount} {idempotency_key}")
    return {"receipt": f"r-{count}", "amount": amount}


@server.tool(
    description="Send a message, slowly (not idempotent).",
    annotations=ToolAnnotations(destructive_hint=False, idempotent_hint=False),
)
async def slow(text: str) -> str:
    """Take longer than the server's JSON window (it then answers with an event stream)."""
    await asyncio.sleep(_STREAM_AFTER_S * 5)
    _count(f"slow {text}")
    return "sent"


async def _no_discover(ctx: Any, params: Any) -> Any:
    raise MCPError(code=METHOD_NOT_FOUND, message="server/discover is not served here")


if __name__ == "__main__":
    port, mode = int(sys.argv[1]), sys.argv[2]
    setattr(_streamable_http_modern, "_SSE_PING_INTERVAL", _STREAM_AFTER_S)  # noqa: B010
    if mode.startswith("legacy"):
        # The SDK's own server, made to speak only the handshake era (a pre-2026 server).
        server._lowlevel_server.add_request_handler("server/discover", RequestParams, _no_discover)
    server.run("streamable-http", host="127.0.0.1", port=port, json_response=mode == "legacy-json")
