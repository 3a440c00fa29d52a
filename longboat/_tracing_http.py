"""The server span of an HTTP request: imported only by a service serving HTTP with tracing on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from longboat._tracing import traced, untraced

__all__ = ["server_span"]


@web.middleware
async def server_span(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Run the request in a server span continuing its ``traceparent`` (probes excepted)."""
    if untraced(request.path):
        return await handler(request)
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else request.path
    with traced(
        f"{request.method} {route}",
        traceparent=request.headers.get("traceparent"),
        kind="server",
        attributes={
            "http.request.method": request.method,
            "http.route": route,
            "url.path": request.path,
        },
    ) as span:
        response = await handler(request)
        span.set("http.response.status_code", response.status)
        if response.status >= 500:
            span.fail(f"HTTP {response.status}")
        return response
