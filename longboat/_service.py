"""One lifecycle for every long-running component (agent runner, coordinator, gateway, registry).

Every service is used the same way::

    async with GatewayService(settings) as gateway:  # open resources, bind the HTTP port
        await gateway.run()                           # serve until shutdown() or a failure

The phases, and what the base class owns in each:

- **open** (``__aenter__``): the subclass's :meth:`Service._open` enters its resources (Kafka
  clients, stores, child services) into one :class:`~contextlib.AsyncExitStack`; then the HTTP
  app is bound. If anything fails, what was opened is closed again before the error leaves.
- **run** (:meth:`Service.run`): the subclass's :meth:`Service._run` starts its children in one
  :class:`asyncio.TaskGroup` (no orphan ``create_task``) and returns when its work is done
  (by default: when :meth:`Service.shutdown` is called). A child that fails cancels the others
  and ``run()`` raises that child's error (unwrapped from the task group). Resources that live
  only while running go on a second exit stack that closes *after* every child has ended.
- **shutdown** (:meth:`Service.shutdown`): synchronous, idempotent, safe from a signal handler,
  twice, and before ``run()`` (which then returns at once). It sets the stopping flag and calls
  the subclass's :meth:`Service._on_shutdown` once (e.g. to stop child services).
- **close** (``__aexit__``): shuts down (if ``run()`` never did) and closes the exit stack in
  reverse order: the HTTP port first, then the resources.

The HTTP surface every service has, on its configured host and port (port 0 picks a free one;
:attr:`Service.port` is the bound port): ``GET /livez`` is 200 while the process is alive;
``GET /readyz`` is 200 ``{"ready": true}`` when the service should receive traffic, else 503
``{"ready": false, "reason": ...}`` (not running yet, stopping, or the subclass's
:meth:`Service._not_ready` reason); ``GET /metrics`` is the Prometheus text of the service's own
registry. With tracing on (:mod:`longboat._tracing`) every other request gets a server span, and
the first service started in a process names it (``longboat-gateway``, ``longboat-agent-x``);
closing a service flushes the spans it buffered. A service whose :attr:`Service._defer_http` is
set binds its port while opening (the port is known and a bad one fails the start) but loads and
serves its app from ``run()`` once :meth:`Service._http_due` returns: the agent runner, so that a
restarted agent is at work before it imports the HTTP server; a probe made meanwhile waits in the
socket's backlog. A service adds its own routes
(:meth:`Service._routes`) and middlewares (:meth:`Service._middlewares`) to the same app. A
service embedded in another (the coordinator's agents) is built with ``http=None`` and serves
nothing itself.
"""

from __future__ import annotations

import asyncio
import socket
from contextlib import AsyncExitStack
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from prometheus_client import CollectorRegistry
from pydantic import BaseModel, ConfigDict, Field

from longboat._listen import bind_socket
from longboat._logging import get_logger
from longboat._tracing import configure_tracing, flush_tracing, tracing_middlewares
from longboat.errors import UsageError

if TYPE_CHECKING:
    from aiohttp import typedefs, web

    # A middleware of a service's app: ``async def m(request, handler) -> response``.
    Middleware = typedefs.Middleware

__all__ = ["HttpEndpoint", "Middleware", "Service"]

_log = get_logger("service")


def __getattr__(name: str) -> Any:
    """``Middleware``, aiohttp's type, imported only when asked for (aiohttp is not cheap)."""
    if name == "Middleware":
        from aiohttp import typedefs

        return typedefs.Middleware
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class HttpEndpoint(BaseModel):
    """Where a service serves HTTP."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(ge=0, le=65535, description="0 picks a free port")
    setting: str = Field(
        default="port", description="the setting that sets the port, named in bind errors"
    )


class _Phase(StrEnum):
    NEW = "new"
    OPEN = "open"
    RUNNING = "running"
    CLOSED = "closed"


class Service:
    """Base class of a long-running component: open, ready, run, idempotent shutdown, HTTP.

    Subclasses override the hooks (all optional): :meth:`_open`, :meth:`_run`,
    :meth:`_on_shutdown`, :meth:`_not_ready`, :meth:`_routes`, :meth:`_middlewares`,
    :meth:`_log_fields`. See the module docstring for the phases.
    """

    #: Bind the port while opening, serve the app once :meth:`_http_due` returns.
    _defer_http: ClassVar[bool] = False

    def __init__(
        self,
        *,
        name: str,
        http: HttpEndpoint | None,
        metrics: CollectorRegistry | None = None,
    ) -> None:
        """Prepare the service; nothing connects or binds until ``async with``.

        Args:
            name: What logs and errors call this service (``gateway``, ``agent triage``).
            http: Where to serve ``/livez``, ``/readyz``, ``/metrics`` and the service's own
                routes; ``None`` serves nothing (a service embedded in another).
            metrics: The registry ``/metrics`` exposes (default: an empty one).
        """
        self.service_name = name
        self.metrics_registry = metrics if metrics is not None else CollectorRegistry()
        self._http = http
        self._port = http.port if http is not None else None
        self._listening: socket.socket | None = None
        self._stack = AsyncExitStack()
        # Set by shutdown(); children and loops watch it. Unbound to a loop until first awaited.
        self._stopping = asyncio.Event()
        self._phase = _Phase.NEW

    # -- hooks ------------------------------------------------------------------------------
    async def _open(self, stack: AsyncExitStack) -> None:
        """Enter the service's resources into ``stack`` (closed in reverse on exit)."""

    async def _run(self, children: asyncio.TaskGroup, resources: AsyncExitStack) -> None:
        """Start children in ``children`` and return when the work is done.

        ``resources`` closes after every child has ended. The default serves until shutdown.
        """
        await self._stopping.wait()

    def _on_shutdown(self) -> None:
        """Called once by the first :meth:`shutdown` (synchronous: it may run in a signal
        handler)."""

    async def _not_ready(self) -> str | None:
        """Why the running service should not receive traffic yet, or ``None``."""
        return None

    def _routes(self) -> list[web.RouteDef]:
        """The service's own routes, served beside ``/livez``, ``/readyz``, ``/metrics``."""
        return []

    def _middlewares(self) -> list[Middleware]:
        """Middlewares of the service's app (they see the health routes too)."""
        return []

    def _log_fields(self) -> dict[str, Any]:
        """Extra fields of the ``service_started`` log event."""
        return {}

    async def _http_due(self) -> None:
        """Return when a deferred HTTP app should be served (see :attr:`_defer_http`)."""

    # -- lifecycle --------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The HTTP port: the bound one once open (the configured one before).

        Raises:
            UsageError: The service serves no HTTP (built with ``http=None``).
        """
        if self._port is None:
            raise UsageError(f"{self.service_name} serves no HTTP (it was built with http=None)")
        return self._port

    @property
    def stopping(self) -> bool:
        """Whether :meth:`shutdown` was called (or ``run()`` ended)."""
        return self._stopping.is_set()

    async def __aenter__(self) -> Self:
        if self._phase is not _Phase.NEW:
            raise UsageError(f"{self.service_name} was already started; build a new one")
        self._phase = _Phase.OPEN
        # The process's first service decides (an embedded one keeps its host's name).
        configure_tracing("longboat-" + self.service_name.replace(" ", "-"))
        try:
            await self._open(self._stack)
            await self._bind_http()
        except BaseException:
            self._phase = _Phase.CLOSED
            await self._stack.aclose()
            raise
        _log.info(
            "service_started", service=self.service_name, port=self._port, **self._log_fields()
        )
        return self

    async def _bind_http(self) -> None:
        http = self._http
        if http is None:
            return
        if self._defer_http:
            self._listening = bind_socket(http.host, http.port, setting=http.setting)
            self._stack.callback(self._listening.close)
            self._port = int(self._listening.getsockname()[1])
            return
        from longboat._web import serve_http

        self._port = await serve_http(
            self._stack, self._app(), http.host, http.port, setting=http.setting
        )

    async def _serve_when_due(self, listening: socket.socket) -> None:
        """Serve the app on the bound socket once :meth:`_http_due` returns (unless stopping)."""
        due = asyncio.ensure_future(self._http_due())
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({due, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (due, stopping):
                waiter.cancel()
            await asyncio.gather(due, stopping, return_exceptions=True)
        if self._stopping.is_set():
            return
        from longboat._web import serve_socket

        await serve_socket(self._stack, self._app(), listening)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()
        self._phase = _Phase.CLOSED
        await self._stack.aclose()
        flush_tracing()  # the batch processor holds the last spans: export them before exit
        _log.info("service_stopped", service=self.service_name)

    def shutdown(self) -> None:
        """Ask the service to stop (idempotent; safe from a signal handler and before run)."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._on_shutdown()

    async def run(self) -> None:
        """Run the children until :meth:`shutdown` or until one fails (then raise its error).

        Raises:
            UsageError: Not entered with ``async with``, or ``run()`` called a second time.
        """
        if self._phase is not _Phase.OPEN:
            raise UsageError(
                f"{self.service_name}.run() needs `async with` first and runs once"
                f" (it is {self._phase.value})"
            )
        self._phase = _Phase.RUNNING
        if self._stopping.is_set():
            return  # shut down before it ran: nothing to start
        try:
            async with AsyncExitStack() as resources, asyncio.TaskGroup() as children:
                if self._listening is not None:
                    children.create_task(self._serve_when_due(self._listening))
                try:
                    await self._run(children, resources)
                finally:
                    self.shutdown()  # the main work ended: every child must end too
        except BaseExceptionGroup as failed:
            raise _first_error(self.service_name, failed) from None

    async def readiness(self) -> str | None:
        """``None`` when the service should receive traffic, else the reason it should not."""
        if self._phase is not _Phase.RUNNING:
            return "starting" if self._phase in (_Phase.NEW, _Phase.OPEN) else "stopped"
        if self._stopping.is_set():
            return "stopping"
        return await self._not_ready()

    # -- HTTP -------------------------------------------------------------------------------
    def _app(self) -> web.Application:
        from aiohttp import web

        app = web.Application(middlewares=[*tracing_middlewares(), *self._middlewares()])
        app.add_routes(
            [
                web.get("/livez", self._livez),
                web.get("/readyz", self._readyz),
                web.get("/metrics", self._metrics_page),
                *self._routes(),
            ]
        )
        return app

    async def _livez(self, _: web.Request) -> web.Response:
        from aiohttp import web

        return web.Response(text="ok\n")

    async def _readyz(self, _: web.Request) -> web.Response:
        from aiohttp import web

        reason = await self.readiness()
        if reason is None:
            return web.json_response({"ready": True})
        return web.json_response({"ready": False, "reason": reason}, status=503)

    async def _metrics_page(self, _: web.Request) -> web.Response:
        from longboat._web import metrics_response

        return metrics_response(self.metrics_registry)


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for error in group.exceptions:
        found += _leaves(error) if isinstance(error, BaseExceptionGroup) else [error]
    return found


def _first_error(service: str, failed: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first child error; the others are logged (callers map one error to an exit code)."""
    first, *others = _leaves(failed)
    for other in others:
        _log.error(
            "service_child_failed",
            service=service,
            error_type=type(other).__name__,
            reason=str(other),
        )
    return first
