"""The lean ``tools/call`` path to a Streamable HTTP upstream: one JSON-RPC POST, pooled aiohttp.

The MCP SDK's client sends every request through memory streams, a task per POST and httpx2;
at 200 calls/s that was half of the gateway's event loop (docs/benchmarks.md, "MCP tool
calls"). This path replaces only the *wire* of a ``tools/call``: it sits under the SDK's
session as its dispatcher, so everything above the wire stays the SDK's own — the request model
and its per-message ``_meta`` and headers (the negotiated protocol version, ``Mcp-Method``,
``Mcp-Name``, ``Mcp-Param-*``), the ``HEADER_MISMATCH`` re-list, input-required rounds,
result validation for the negotiated version and output-schema validation. Every other method
(discover, initialize, listings, notifications) goes through the SDK's transport unchanged.

A JSON-RPC answer (result or error, at any status) is the SDK's answer, and the SDK's session
does the rest with it (a ``HEADER_MISMATCH`` re-list included). A refusal at the HTTP layer
without a JSON-RPC body (a redirect, a 4xx: headers, auth) reached no handler, so that call is
resent on the SDK path, counted as a fallback. An upstream seen answering the SDK with event
streams (its handshake, before any call) gets no lean calls; an event stream that answers a
lean call is read to its response, since the call reached the tool and must never be sent
twice.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import httpx2
from mcp import MCPError
from mcp.shared._otel import inject_trace_context, otel_span
from mcp.shared.dispatcher import CallOptions
from mcp_types import (
    CONNECTION_CLOSED,
    INTERNAL_ERROR,
    INVALID_REQUEST,
    PARSE_ERROR,
    REQUEST_TIMEOUT,
    JSONRPCError,
    JSONRPCRequest,
    JSONRPCResponse,
    jsonrpc_message_adapter,
)
from opentelemetry.trace import SpanKind
from pydantic import ValidationError

__all__ = ["LeanDispatcher", "LeanWire"]

_SESSION_HEADER = "mcp-session-id"
_EVENT_STREAM = "text/event-stream"


class _Resend(Exception):
    """The server turned the POST away before acting on it: send it the SDK's way."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LeanWire:
    """One upstream's lean POSTs: its URL, the headers the gateway holds, a pooled session.

    It watches the SDK's own HTTP traffic (``observe_*`` are httpx2 event hooks) for the
    ``Mcp-Session-Id`` the SDK sends and for event-stream answers.
    """

    def __init__(
        self,
        *,
        server: str,
        url: str,
        headers: Mapping[str, str],
        counted: Callable[[str, str], None],
    ) -> None:
        """``counted(server, path)`` is told each ``tools/call``'s path: ``lean``,
        ``lean:event-stream`` or ``sdk:<reason>``."""
        self.server = server
        self.url = url
        self._headers = {
            **headers,
            "accept": "application/json, text/event-stream",
            "content-type": "application/json",
        }
        self._counted = counted
        self._ids = itertools.count(1)
        self._session_id: str | None = None
        self.streams = False  # the server answered the SDK with an event stream
        self._http: aiohttp.ClientSession | None = None

    async def observe_request(self, request: httpx2.Request) -> None:
        """Keep the session id the SDK sends (servers that issue one; stateless ones do not)."""
        self._session_id = request.headers.get(_SESSION_HEADER)

    async def observe_response(self, response: httpx2.Response) -> None:
        """Note a server that answers POSTs with event streams: it gets no lean calls."""
        kind = response.headers.get("content-type", "")
        if response.request.method == "POST" and kind.lower().startswith(_EVENT_STREAM):
            self.streams = True

    def count(self, path: str) -> None:
        """Count one ``tools/call`` by the path it took (``lean`` or ``sdk:<reason>``)."""
        self._counted(self.server, path)

    async def close(self) -> None:
        """Close the pooled connections."""
        if self._http is not None:
            await self._http.close()

    def usable(self) -> bool:
        """Whether a ``tools/call`` may go lean now."""
        if self.streams:
            self.count("sdk:event-stream server")
        return not self.streams

    async def post(
        self, method: str, params: dict[str, Any], opts: CallOptions
    ) -> tuple[dict[str, Any], str]:
        """POST one request; its JSON-RPC result, as the SDK's dispatcher returns it, and how it
        came (``lean``, or ``lean:event-stream`` when the server streamed it).

        Raises:
            MCPError: The server's JSON-RPC error, ``REQUEST_TIMEOUT``, ``CONNECTION_CLOSED``
                or a malformed answer, with the SDK transport's codes and messages.
            _Resend: The server did not act on the request (send it the SDK's way).
        """
        if self._http is None:  # made on the loop that calls, never at import or in __init__
            self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
        request_id = f"lb-{next(self._ids)}"  # a string: never one of the SDK's own integer ids
        headers = dict(self._headers)
        if self._session_id:
            headers[_SESSION_HEADER] = self._session_id
        headers.update(opts.get("headers") or {})
        target = params.get("name")
        span = f"MCP send {method}{f' {target}' if isinstance(target, str) else ''}"
        attributes = {"mcp.method.name": method, "jsonrpc.request.id": request_id}
        # The SDK dispatcher's client span and W3C trace context in _meta, so the server's
        # spans still join the gateway's trace.
        with otel_span(span, kind=SpanKind.CLIENT, attributes=attributes):
            meta = dict(params.get("_meta") or {})
            inject_trace_context(meta)
            body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
            if meta:
                params["_meta"] = meta
            try:
                async with asyncio.timeout(opts.get("timeout")):
                    return await self._exchange(request_id, json.dumps(body), headers)
            except TimeoutError:
                message = f"Request {method!r} timed out"
                raise MCPError(code=REQUEST_TIMEOUT, message=message) from None
            except aiohttp.ClientError as e:
                raise MCPError(code=CONNECTION_CLOSED, message=f"Connection closed: {e}") from e

    async def _exchange(
        self, request_id: str, body: str, headers: dict[str, str]
    ) -> tuple[dict[str, Any], str]:
        assert self._http is not None
        async with self._http.post(
            self.url, data=body, headers=headers, allow_redirects=False
        ) as response:
            status = response.status
            if status == 202:
                message = "server answered a request with 202 Accepted"
                raise MCPError(code=INVALID_REQUEST, message=message)
            kind = response.headers.get("content-type", "").lower()
            if status >= 300:
                # The server's JSON-RPC error (a handler's too, at 400/404): raised as the SDK
                # does, never resent, since a handler that failed may have acted.
                await _raise_error_body(response, kind)
                if status < 500:
                    raise _Resend(f"HTTP {status}")  # refused at the HTTP layer: nothing ran
                raise MCPError(code=INTERNAL_ERROR, message="Server returned an error response")
            if kind.startswith("application/json"):
                return _outcome(request_id, await response.read()), "lean"
            if kind.startswith(_EVENT_STREAM):
                # The call reached the tool (it sent a notification, or ran past the server's
                # JSON window): read this stream to its answer, never resend it.
                return await _from_stream(request_id, response), "lean:event-stream"
            raise MCPError(code=INVALID_REQUEST, message=f"Unexpected content type: {kind}")


async def _raise_error_body(response: aiohttp.ClientResponse, kind: str) -> None:
    """A JSON-RPC error carried by an error status, raised as the SDK raises it."""
    if not kind.startswith("application/json"):
        return
    try:
        parsed = jsonrpc_message_adapter.validate_json(await response.read(), by_name=False)
    except ValidationError:
        return
    if isinstance(parsed, JSONRPCError):
        error = parsed.error
        raise MCPError(code=error.code, message=error.message, data=error.data)


def _outcome(request_id: str, content: bytes | str) -> dict[str, Any]:
    """The result of a JSON-RPC response, validated by the SDK's own message types."""
    try:
        message = jsonrpc_message_adapter.validate_json(content, by_name=False)
    except ValidationError as e:
        raise MCPError(code=PARSE_ERROR, message=f"Failed to parse JSON response: {e}") from e
    if isinstance(message, JSONRPCError):
        error = message.error
        raise MCPError(code=error.code, message=error.message, data=error.data)
    if not isinstance(message, JSONRPCResponse) or message.id != request_id:
        raise MCPError(code=INVALID_REQUEST, message="the answer is not this request's response")
    return message.result


async def _from_stream(request_id: str, response: aiohttp.ClientResponse) -> dict[str, Any]:
    """The response on an event stream; notifications on it are passed over (the gateway's
    session registers no handler for them), a request from the server cannot be answered here."""
    data: list[str] = []
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
            continue
        if line or not data:
            continue
        event, data = "\n".join(data), []
        try:
            message = jsonrpc_message_adapter.validate_json(event, by_name=False)
        except ValidationError:
            continue  # the SDK's transport logs and skips an event it cannot parse
        if isinstance(message, JSONRPCRequest):
            raise MCPError(
                code=INTERNAL_ERROR,
                message=f"the server asked {message.method!r} during a lean tools/call",
            )
        if isinstance(message, JSONRPCResponse | JSONRPCError):
            return _outcome(request_id, event)
    raise MCPError(code=CONNECTION_CLOSED, message="SSE stream ended without a response")


class LeanDispatcher:
    """The SDK session's dispatcher with ``tools/call`` sent over :class:`LeanWire`.

    Everything else, and every ``tools/call`` the lean wire turns back, goes to the SDK's own
    dispatcher (``inner``), which keeps running the session.
    """

    def __init__(self, inner: Any, wire: LeanWire) -> None:
        """Wrap the session's ``inner`` dispatcher."""
        self._inner = inner
        self.wire = wire

    def __getattr__(self, name: str) -> Any:
        """Whatever else the session asks of its dispatcher is the SDK's own."""
        return getattr(self._inner, name)

    async def send_raw_request(
        self,
        method: str,
        params: Mapping[str, Any] | None,
        opts: CallOptions | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Send ``tools/call`` lean; anything else, or a turned-back call, the SDK's way."""
        options: CallOptions = opts or {}
        plain = not extra and not options.get("on_progress") and not options.get("resumption_token")
        if method == "tools/call" and plain and self.wire.usable():
            try:
                result, path = await self.wire.post(method, dict(params or {}), options)
            except _Resend as e:
                self.wire.count(f"sdk:{e.reason}")
            else:
                self.wire.count(path)
                return result
        outcome: dict[str, Any] = await self._inner.send_raw_request(method, params, opts, **extra)
        return outcome
