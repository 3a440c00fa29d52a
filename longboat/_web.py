"""Serving an aiohttp application for the lifetime of an exit stack."""

from __future__ import annotations

from contextlib import AsyncExitStack

from aiohttp import web

__all__ = ["serve_http"]


async def serve_http(stack: AsyncExitStack, app: web.Application, host: str, port: int) -> int:
    """Serve ``app`` on ``host:port`` until ``stack`` closes; returns the port (0: a free one)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    await web.TCPSite(runner, host, port).start()
    return int(runner.addresses[0][1])
