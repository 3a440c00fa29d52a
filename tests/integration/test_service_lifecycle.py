"""The shared service lifecycle (``longboat.Service``) on real sockets; no Kafka needed."""

from __future__ import annotations

import asyncio
import json
import socket
from contextlib import AsyncExitStack

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from longboat import HttpEndpoint, Service, merged_metrics
from longboat.errors import ConfigError, UsageError
from tests.helpers import assert_eventually


class Resource:
    """A resource that records whether it was closed."""

    def __init__(self) -> None:
        self.closed = False

    async def close(self) -> None:
        self.closed = True


class Toy(Service):
    """A service with one resource, a readiness gate, a route and an optional failing child."""

    def __init__(self, *, fail_child: bool = False) -> None:
        self.requests = Counter(
            "toy_requests", "Requests", registry=(metrics := CollectorRegistry())
        )
        super().__init__(name="toy", http=HttpEndpoint(port=0), metrics=metrics)
        self.resource = Resource()
        self.gate = asyncio.Event()
        self.fail_child = fail_child
        self.shutdowns = 0

    async def _open(self, stack: AsyncExitStack) -> None:
        stack.push_async_callback(self.resource.close)

    async def _run(self, children: asyncio.TaskGroup, resources: AsyncExitStack) -> None:
        if self.fail_child:
            children.create_task(self._crash())
        await self._stopping.wait()

    async def _crash(self) -> None:
        await self.gate.wait()
        raise ConfigError("the child failed")

    def _on_shutdown(self) -> None:
        self.shutdowns += 1

    async def _not_ready(self) -> str | None:
        return None if self.gate.is_set() else "gate closed"

    def _routes(self) -> list[web.RouteDef]:
        return [web.get("/hello", self._hello)]

    async def _hello(self, _: web.Request) -> web.Response:
        self.requests.inc()
        return web.Response(text="hi")


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.text()


async def test_health_routes_and_readiness() -> None:
    """/livez is 200 at once, /readyz 503 with a reason then 200, /metrics and own routes serve."""
    async with Toy() as toy:
        base = f"http://127.0.0.1:{toy.port}"
        assert toy.port != 0
        assert (await _get(f"{base}/livez"))[0] == 200
        status, body = await _get(f"{base}/readyz")
        assert (status, json.loads(body)) == (503, {"ready": False, "reason": "starting"})
        task = asyncio.create_task(toy.run())
        await assert_eventually(
            lambda: _get(f"{base}/readyz"),
            lambda r: r == (503, json.dumps({"ready": False, "reason": "gate closed"})),
            what="not ready while the gate is closed",
        )
        toy.gate.set()
        status, body = await _get(f"{base}/readyz")
        assert (status, json.loads(body)) == (200, {"ready": True})
        assert await _get(f"{base}/hello") == (200, "hi")
        status, text = await _get(f"{base}/metrics")
        assert status == 200
        assert "toy_requests_total 1.0" in text
        toy.shutdown()
        status, body = await _get(f"{base}/readyz")
        assert (status, json.loads(body)["reason"]) == (503, "stopping")
        await task
    assert toy.resource.closed


async def test_shutdown_is_idempotent_and_safe_before_run() -> None:
    """shutdown() twice and before run() is safe: run() then returns at once, hook called once."""
    async with Toy() as toy:
        toy.shutdown()
        toy.shutdown()
        await asyncio.wait_for(toy.run(), timeout=30)
    assert toy.shutdowns == 1
    assert toy.resource.closed


async def test_crashing_child_ends_run_with_its_error_and_closes_resources() -> None:
    """A child that raises ends run() with that error (not a group) and the resources close."""
    toy = Toy(fail_child=True)

    async def crash() -> None:
        async with toy:
            task = asyncio.create_task(toy.run())
            toy.gate.set()
            await task

    with pytest.raises(ConfigError, match="the child failed"):
        await crash()
    assert toy.stopping
    assert toy.resource.closed


async def test_run_needs_enter_and_runs_once() -> None:
    """run() before ``async with`` and a second run() are usage errors that say what to do."""
    toy = Toy()
    with pytest.raises(UsageError, match="async with"):
        await toy.run()
    async with toy:
        toy.shutdown()
        await toy.run()
        with pytest.raises(UsageError, match="runs once"):
            await toy.run()
    with pytest.raises(UsageError, match="already started"):
        await toy.__aenter__()


async def test_port_in_use_is_a_config_error_naming_the_setting() -> None:
    """Binding a taken port fails with a ConfigError naming the setting, and nothing stays open."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        class Taken(Toy):
            def __init__(self) -> None:
                super().__init__()
                self._http = HttpEndpoint(port=port, setting="LONGBOAT_TOY__PORT")

        service = Taken()
        with pytest.raises(ConfigError, match="LONGBOAT_TOY__PORT"):
            await service.__aenter__()
        assert service.resource.closed


class Deferred(Toy):
    """A service that binds its port while opening and serves once ``due`` is set."""

    _defer_http = True

    def __init__(self) -> None:
        super().__init__()
        self.due = asyncio.Event()

    async def _http_due(self) -> None:
        await self.due.wait()


async def test_deferred_http_binds_at_open_and_serves_once_due() -> None:
    """A deferred service holds its port from the start; a request sent before due is answered."""
    async with Deferred() as service:
        assert service.port != 0
        with socket.socket() as probe, pytest.raises(OSError, match="in use"):
            probe.bind(("127.0.0.1", service.port))  # bound before anything is served
        running = asyncio.create_task(service.run())
        early = asyncio.create_task(_get(f"http://127.0.0.1:{service.port}/livez"))
        service.due.set()
        assert (await early)[0] == 200
        service.shutdown()
        await running


async def test_deferred_http_taken_port_fails_the_start() -> None:
    """A deferred service's taken port is still a ConfigError naming the setting, at open."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        service = Deferred()
        service._http = HttpEndpoint(port=taken.getsockname()[1], setting="LONGBOAT_TOY__PORT")
        with pytest.raises(ConfigError, match="LONGBOAT_TOY__PORT"):
            await service.__aenter__()


async def test_deferred_http_never_due_ends_with_the_service() -> None:
    """A service stopped before its HTTP is due ends its run without serving."""
    async with Deferred() as service:
        service.shutdown()
        await service.run()


async def test_embedded_service_serves_no_http() -> None:
    """A service built with http=None binds nothing; asking its port is a usage error."""
    service = Service(name="embedded", http=None)
    async with service:
        with pytest.raises(UsageError, match="serves no HTTP"):
            _ = service.port
        service.shutdown()
        await service.run()


def test_merged_metrics_join_families_of_one_name() -> None:
    """Merged registries expose one family per name, with the samples of every registry."""
    registries = [CollectorRegistry(), CollectorRegistry()]
    for name, registry in zip(("a", "b"), registries, strict=True):
        Counter("hits", "Hits", ["who"], registry=registry).labels(name).inc()
    families = list(merged_metrics(registries).collect())
    assert [f.name for f in families] == ["hits"]
    assert {s.labels["who"] for s in families[0].samples if s.name == "hits_total"} == {"a", "b"}
