"""The agent's small HTTP port: ``/livez``, ``/readyz`` and Prometheus ``/metrics``."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Self

from aiohttp import web

from longboat import serve_http

__all__ = ["HealthServer"]


class HealthServer:
    """Serves liveness, readiness and metrics; binds on enter, stops on exit."""

    def __init__(
        self, *, host: str, port: int, ready: Callable[[], bool], metrics: Callable[[], bytes]
    ) -> None:
        """Create the server.

        Args:
            host: Interface to bind.
            port: Port to bind (0 picks a free one; see :attr:`port` after start).
            ready: Whether the process should receive traffic (partitions assigned).
            metrics: The Prometheus exposition.
        """
        self._host, self._requested_port = host, port
        self._ready, self._metrics = ready, metrics
        self._stack = AsyncExitStack()
        self.port = port

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_get("/livez", self._livez)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics_page)
        self.port = await serve_http(self._stack, app, self._host, self._requested_port)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    async def _livez(self, _: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, _: web.Request) -> web.Response:
        if self._ready():
            return web.Response(text="ready\n")
        return web.Response(status=503, text="no partitions assigned\n")

    async def _metrics_page(self, _: web.Request) -> web.Response:
        return web.Response(body=self._metrics(), content_type="text/plain", charset="utf-8")
