"""An upstream MCP server for the gateway tests, written with the official ``mcp`` SDK.

``python -m tests.integration.gateway.mcp_upstream stdio`` or ``... http PORT``. Every call
that takes effect appends one line to ``$MCP_COUNTER_FILE`` (the side-effect counter the tests
read); ``$MCP_LOOKUP_DESCRIPTION`` changes a tool's description (drift).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

server = MCPServer("upstream")


def _count(line: str) -> int:
    path = Path(os.environ["MCP_COUNTER_FILE"])
    with path.open("a") as counter:
        counter.write(line + "\n")
    return len(path.read_text().splitlines())


@server.tool(
    description=os.environ.get("MCP_LOOKUP_DESCRIPTION", "Look up the weather of a city."),
    annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
)
def lookup(city: str) -> dict[str, str]:
    """Answer without side effects."""
    return {"city": city, "weather": "sunny"}


@server.tool(
    description="Charge an amount; takes effect once per idempotency key.",
    annotations=ToolAnnotations(destructive_hint=True, idempotent_hint=False, open_world_hint=True),
)
def charge(amount: int, idempotency_key: str = "") -> dict[str, object]:
    """Count the charge (the side effect) and return a receipt."""
    hold = os.environ.get("MCP_HOLD_FILE")
    if hold:
        # Crash tests: the call has started; it waits here until the test has killed something.
        Path(hold + ".started").write_text(idempotency_key)
        while Path(hold).exists():
            time.sleep(0.05)
    counter = Path(os.environ["MCP_COUNTER_FILE"])
    done = counter.read_text().splitlines() if counter.exists() else []
    line = f"charge {amount} {idempotency_key}"
    if idempotency_key and line in done:
        # The key passed on by the gateway: a repeat of a charge takes no second effect.
        return {"receipt": f"r-{done.index(line) + 1}", "amount": amount, "key": idempotency_key}
    count = _count(line)
    return {"receipt": f"r-{count}", "amount": amount, "key": idempotency_key}


@server.tool(
    description="Send a message (not idempotent, takes no key).",
    annotations=ToolAnnotations(destructive_hint=False, idempotent_hint=False),
)
def send(text: str) -> str:
    """Count the message."""
    _count(f"send {text}")
    return "sent"


@server.tool(
    description="Record an email address.",
    annotations=ToolAnnotations(destructive_hint=False, idempotent_hint=True),
)
def remember(text: str) -> str:
    """Count the call."""
    _count(f"remember {text}")
    return "ok"


if __name__ == "__main__":
    if sys.argv[1] == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
