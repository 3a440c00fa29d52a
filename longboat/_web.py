"""The HTTP pieces every service shares: serving an app, and the Prometheus exposition."""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator
from contextlib import AsyncExitStack

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from longboat._listen import bind_error

__all__ = ["PROMETHEUS_TEXT", "merged_metrics", "metrics_response", "serve_http", "serve_socket"]

# generate_latest writes the 0.0.4 text format; say so, whatever the library's newest default.
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


async def serve_http(
    stack: AsyncExitStack, app: web.Application, host: str, port: int, *, setting: str = "port"
) -> int:
    """Serve ``app`` on ``host:port`` until ``stack`` closes; returns the port (0: a free one).

    Raises:
        ConfigError: The address cannot be bound (in use, not local); names ``setting``.
    """
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as e:
        raise bind_error(host, port, e, setting=setting) from e
    return int(runner.addresses[0][1])


async def serve_socket(stack: AsyncExitStack, app: web.Application, sock: socket.socket) -> None:
    """Serve ``app`` on an already listening ``sock`` until ``stack`` closes."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    await web.SockSite(runner, sock).start()


def metrics_response(registry: CollectorRegistry) -> web.Response:
    """The Prometheus text exposition of ``registry``."""
    return web.Response(body=generate_latest(registry), headers={"Content-Type": PROMETHEUS_TEXT})


class _Merged(Collector):
    """Families of several registries, same-named families joined into one."""

    def __init__(self, registries: Iterable[CollectorRegistry]) -> None:
        self._registries = tuple(registries)

    def collect(self) -> Iterator[Metric]:
        merged: dict[str, Metric] = {}
        for registry in self._registries:
            for family in registry.collect():
                # Two families of one name would be a second TYPE line: scrapers reject that.
                target = merged.setdefault(
                    family.name,
                    Metric(family.name, family.documentation, family.type, family.unit),
                )
                target.samples.extend(family.samples)
        yield from merged.values()


def merged_metrics(registries: Iterable[CollectorRegistry]) -> CollectorRegistry:
    """One registry that exposes the metrics of ``registries`` (e.g. of embedded services)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Merged(registries))
    return registry
