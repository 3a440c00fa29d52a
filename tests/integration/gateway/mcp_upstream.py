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

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations

server = MCPServer("upstream")


def _count(line: str) -> int:
    path = Path(os.environ["MCP_COUNTER_FILE"])
    with path.open("a") as counter:
        counter.write(line + "\n")
    return len(path.read_text().splitlines())


def _hold() -> None:
    """Crash tests: the call has started; it waits here while ``$MCP_HOLD_FILE`` exists.

    ``<hold>.started`` gets this server's pid, so the test can kill a server its gateway left.
    """
    hold = os.environ.get("MCP_HOLD_FILE")
    if hold:
        Path(hold + ".started").write_text(str(os.getpid()))
        while Path(hold).exists():
            time.sleep(0.05)


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
    _hold()
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
    _hold()
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


@server.tool(
    description="Pay an amount (not idempotent; it sees the gateway's key only in _meta).",
    annotations=ToolAnnotations(destructive_hint=False, idempotent_hint=False),
)
def pay(amount: int, ctx: Context) -> dict[str, object]:
    """Count the payment, marked with the key the gateway passed in ``_meta``."""
    _hold()
    meta = ctx.request_context.meta or {}
    key = meta.get("io.longboat/idempotency-key", "")
    count = _count(f"pay {amount} {key}")
    return {"receipt": f"p-{count}", "amount": amount}


@server.tool(
    description="Whether the payment with this idempotency key took effect, and its receipt.",
    annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True),
)
def lookup_payment(idempotency_key: str) -> dict[str, object]:
    """The reconcile tool of ``pay``: reads the counter, changes nothing."""
    counter = Path(os.environ["MCP_COUNTER_FILE"])
    lines = counter.read_text().splitlines() if counter.exists() else []
    for number, line in enumerate(lines, start=1):
        verb, amount, key = [*line.split(" ", 2), "", ""][:3]
        if verb == "pay" and key == idempotency_key:
            return {"happened": True, "result": {"receipt": f"p-{number}", "amount": int(amount)}}
    return {"happened": False}


if __name__ == "__main__":
    if sys.argv[1] == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
