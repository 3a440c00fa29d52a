"""A do-nothing HTTP hop: the MCP latency benchmark's floor for any Python gateway.

``python -m bench._bare_proxy PORT UPSTREAM``: an aiohttp server that forwards every request to
``UPSTREAM`` over one pooled client session and sends the answer back, headers included (the MCP
session id travels both ways). No token, no policy, no PII scan, no log: what one Python HTTP
hop costs on its own, so the gateway's figures can be read against it.
"""

from __future__ import annotations

import sys

from aiohttp import ClientSession, web

_HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


def app(upstream: str) -> web.Application:
    """The forwarding application."""
    application = web.Application()

    async def session(app: web.Application):  # type: ignore[no-untyped-def]
        app["client"] = ClientSession()
        yield
        await app["client"].close()

    async def forward(request: web.Request) -> web.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        client: ClientSession = request.app["client"]
        async with client.request(
            request.method, upstream, data=await request.read(), headers=headers
        ) as answer:
            body = await answer.read()
            back = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP}
            return web.Response(status=answer.status, body=body, headers=back)

    application.cleanup_ctx.append(session)
    application.router.add_route("*", "/mcp", forward)
    return application


if __name__ == "__main__":
    web.run_app(app(sys.argv[2]), host="127.0.0.1", port=int(sys.argv[1]), print=None)
