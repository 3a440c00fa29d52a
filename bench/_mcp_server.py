"""The upstream MCP server the MCP latency benchmark calls (official ``mcp`` SDK, Streamable HTTP).

``python -m bench._mcp_server PORT``: one read-only tool, ``lookup``, that answers at once, so the
benchmark measures transport and gateway, not the tool.
"""

from __future__ import annotations

import sys

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

server = MCPServer("bench")


@server.tool(
    description="Look up a city's weather (benchmark tool, answers at once).",
    annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
)
def lookup(city: str) -> dict[str, str]:
    """Answer without side effects."""
    return {"city": city, "weather": "sunny"}


if __name__ == "__main__":
    server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
