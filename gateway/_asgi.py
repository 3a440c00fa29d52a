"""One aiohttp request served by an ASGI application (the MCP SDK's Streamable HTTP transport).

The gateway is an aiohttp service; the official MCP SDK serves Streamable HTTP as ASGI. This
bridge hands the SDK one already-read, bounded request body and streams back whatever the
SDK answers (one JSON body, or an event stream), so ``/mcp`` lives on the gateway's port,
behind the same authentication, without a second HTTP server. Only what the gateway put in
``extra`` (the authenticated caller) reaches the SDK's handlers besides the request itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from aiohttp import web

__all__ = ["AsgiApp", "serve_asgi"]

AsgiMessage = MutableMapping[str, Any]
AsgiApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[AsgiMessage]],
        Callable[[AsgiMessage], Awaitable[None]],
    ],
    Awaitable[None],
]


def _scope(request: web.Request, extra: dict[str, object]) -> dict[str, Any]:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    host, _, port = request.host.partition(":")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": f"{request.version.major}.{request.version.minor}",
        "method": request.method,
        "scheme": request.scheme,
        "path": request.path,
        "raw_path": request.rel_url.raw_path.encode(),
        "query_string": request.query_string.encode(),
        "root_path": "",
        # The bytes as received: re-encoding decoded text could fail on a hostile header.
        "headers": [(name.lower(), value) for name, value in request.raw_headers],
        "client": tuple(peer[:2]) if isinstance(peer, tuple) else None,
        "server": (host, int(port) if port.isdigit() else 80),
        "state": {},
        **extra,
    }


async def serve_asgi(
    app: AsgiApp, request: web.Request, *, body: bytes, extra: dict[str, object]
) -> web.StreamResponse | None:
    """Run ``app`` for ``request`` (its body already read); the response it sent, or None if
    it sent none."""
    finished = asyncio.Event()
    delivered = False
    response: web.StreamResponse | None = None

    async def receive() -> AsgiMessage:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        # The body is all there is; the client "leaves" once the answer is complete.
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: AsgiMessage) -> None:
        nonlocal response
        if message["type"] == "http.response.start":
            response = web.StreamResponse(status=int(message["status"]))
            for name, value in message.get("headers", []):
                response.headers.add(name.decode("latin-1"), value.decode("latin-1"))
            await response.prepare(request)
        elif message["type"] == "http.response.body" and response is not None:
            await response.write(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                await response.write_eof()

    try:
        await app(_scope(request, extra), receive, send)
    finally:
        finished.set()
    return response
