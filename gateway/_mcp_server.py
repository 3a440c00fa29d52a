"""The gateway as an MCP server: ``/mcp`` (Streamable HTTP) on the gateway's own port.

An agent written with any MCP-speaking framework points its client at ``/mcp`` with
``Authorization: Bearer <agent token>`` (the registry token every gateway route takes):

- ``tools/list`` shows only what this agent may call: approved catalogue definitions of the
  upstream MCP servers (with their input schemas and annotations) and the tools file's HTTP and
  Python tools (they declare no schema: an open object schema). Each tool is decided by the
  policy as action ``tool.list`` (logged to ``lb.decisions``); the Rego grants listing exactly
  where it would grant a call without arguments.
- ``tools/call`` is the gateway's one governed call (:meth:`GatewayService.invoke_tool`, the
  same code as ``POST /v1/tools/{name}/invoke``): identity, PII classification, the policy on
  arguments and annotations, the decision log, the ledger. The idempotency key comes from the
  request's ``_meta`` (``io.longboat/idempotency-key``): the same key is the same call, exactly
  once, as for ``ctx.tool``. Without it every request gets a fresh key: at most once per
  request, and a client retry is a new call. Refusals (policy, PII, approval, in doubt) are
  tool errors (``isError`` with the code and the reasons), so a model can read them; only a
  malformed request is a protocol error.

The SDK's server runs stateless with JSON answers (one request, one answer, no session to
keep between replicas); :mod:`._asgi` hands it each request after authentication.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import (
    CallToolRequestParams,
    CallToolResult,
    ListToolsResult,
    PaginatedRequestParams,
    TextContent,
    Tool,
    ToolAnnotations,
)
from pydantic import JsonValue, TypeAdapter, ValidationError

from longboat import ErrorBody, JsonInvalid, JsonTooLarge, loads_strict
from longboat.gateway._approvals import ApprovalAnswer
from longboat.gateway._asgi import serve_asgi
from longboat.gateway._decision import AgentFacts, PolicyContext, Resource
from longboat.gateway._mcp import IDEMPOTENCY_META_KEY, ToolDefinition
from longboat.gateway._protocol import ToolInvocation, ToolResult, error_answer
from longboat.registry import VerifiedIdentity

if TYPE_CHECKING:
    from longboat.gateway._service import GatewayService

__all__ = [
    "MCP_PATH",
    "RUN_META_KEY",
    "WORKFLOW_META_KEY",
    "McpEndpoint",
    "call_result",
    "idempotency_key",
    "meta_text",
]

MCP_PATH = "/mcp"
# Requests are JSON-RPC envelopes around tool arguments: the same bound as a tool invocation.
_MAX_BODY_BYTES = 256 * 1024
# Policy, classification and the ledger around the slowest upstream call.
_OVERHEAD_S = 30.0
# Optional _meta entries a client may send with tools/call: kept with the decision and the call.
WORKFLOW_META_KEY = "io.longboat/workflow-id"
RUN_META_KEY = "io.longboat/run-id"
_CALLER = "longboat.caller"
_KEY_CHARS = 200
_OPEN_SCHEMA: dict[str, Any] = {"type": "object", "additionalProperties": True}
_JSON: TypeAdapter[JsonValue] = TypeAdapter(JsonValue)


@dataclass(frozen=True)
class _Caller:
    """The authenticated agent, carried to the SDK's handlers in the request scope."""

    identity: VerifiedIdentity
    facts: AgentFacts


def _caller(ctx: ServerRequestContext[Any, Any]) -> _Caller:
    request = ctx.request
    caller = getattr(request, "scope", {}).get(_CALLER)
    if not isinstance(caller, _Caller):
        # Every request reaches the SDK through McpEndpoint._serve, after authentication;
        # refuse rather than act for nobody if that ever stops being true.
        raise PermissionError("an MCP request reached the gateway's handlers unauthenticated")
    return caller


def _listed(definition: ToolDefinition) -> Tool:
    hints = definition.hints
    return Tool(
        name=definition.name,
        description=definition.description,
        input_schema=dict(definition.input_schema),
        annotations=ToolAnnotations(
            read_only_hint=hints.read_only,
            destructive_hint=hints.destructive,
            idempotent_hint=hints.idempotent,
            open_world_hint=hints.open_world,
        ),
    )


def _plain(name: str, kind: str) -> Tool:
    description = f"The gateway's {kind} tool {name} (arguments: a JSON object, as documented)."
    return Tool(name=name, description=description, input_schema=dict(_OPEN_SCHEMA))


def meta_text(meta: object, name: str) -> str | None:
    """The string ``name`` of a request's ``_meta``, if the client sent it.

    Raises:
        ValueError: It is there but is not a string of 1 to 200 characters.
    """
    if not isinstance(meta, dict) or name not in meta:
        return None
    value = meta[name]
    if not isinstance(value, str) or not 0 < len(value) <= _KEY_CHARS:
        raise ValueError(f"_meta.{name} must be a string of 1 to {_KEY_CHARS} characters")
    return value


def idempotency_key(meta: object) -> str | None:
    """The client's key from a request's ``_meta`` (``io.longboat/idempotency-key``), if any.

    Raises:
        ValueError: The key is there but is not a string of 1 to 200 characters.
    """
    return meta_text(meta, IDEMPOTENCY_META_KEY)


def _refused(error: ErrorBody) -> CallToolResult:
    """A refusal as a tool error: the model reads the code, the message and the reasons."""
    text = f"{error.error}: {error.message or ''}".rstrip(": ")
    return CallToolResult(
        content=[TextContent(text=text)],
        structured_content=error.model_dump(mode="json", exclude_none=True),
        is_error=True,
    )


def _completed(result: ToolResult) -> CallToolResult:
    value = result.result
    return CallToolResult(
        content=[TextContent(text=json.dumps(value, ensure_ascii=False))],
        structured_content=value if isinstance(value, dict) else None,
        is_error=False,
        meta={
            "io.longboat/decision-id": result.decision_id,
            "io.longboat/executed": result.executed,
        },
    )


def call_result(response: web.Response) -> CallToolResult:
    """The MCP form of the gateway's answer to one governed call."""
    payload = response.text or "null"
    if response.status == 200:
        return _completed(ToolResult.model_validate_json(payload))
    if response.status == 202:
        return _parked(ApprovalAnswer.model_validate_json(payload))
    return _refused(ErrorBody.of_answer(response.status, json.loads(payload)))


def _parked(parked: ApprovalAnswer) -> CallToolResult:
    """A call the policy parked for a person: not executed; the same key asks again later."""
    return _refused(
        ErrorBody(
            error="approval_pending",
            message=(
                f"{parked.tool} waits for an operator's approval ({parked.approval_id}, until "
                f"{parked.deadline.isoformat()}); call again with the same idempotency key "
                "once it is approved"
            ),
            reasons=list(parked.reasons),
            retryable=True,
        )
    )


class McpEndpoint:
    """``/mcp``: the gateway's governed tools for MCP clients (see the module docstring)."""

    def __init__(self, gateway: GatewayService) -> None:
        """Build the SDK server; nothing is served until :meth:`open`."""
        self._gateway = gateway
        server: Server[Any] = Server(
            "longboat-gateway",
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            # Else the SDK validates Mcp-Param-* headers by calling tools/list on every call
            # (a policy decision per tool, logged, for each call).
            get_tool_input_schema=self._input_schema,
        )
        self._sessions = StreamableHTTPSessionManager(
            server,
            stateless=True,
            json_response=True,
            max_request_body_size=_MAX_BODY_BYTES,
            # No Host/Origin allow-list (DNS-rebinding defence): every request needs a fresh
            # agent token a browser page cannot mint, and the Host differs per deployment.
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        timeouts = [s.timeout_s for s in gateway.tools.servers.values()]
        timeouts += [getattr(s, "timeout_s", 0.0) for s in gateway.tools.specs.values()]
        self.timeout_s = max(timeouts, default=0.0) + _OVERHEAD_S

    async def open(self, stack: AsyncExitStack) -> None:
        """Start the SDK's session manager (it stops when ``stack`` closes).

        It runs in a task of its own: its anyio task group must be left by the task that
        entered it, and whoever closes the gateway (a fixture's teardown, a signal handler's
        task) need not be the task that opened it.
        """
        started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()

        async def hold() -> None:
            async with self._sessions.run():
                started.set_result(None)
                await stop.wait()

        task = asyncio.create_task(hold(), name="mcp-sessions")
        await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # it failed to start: say why

        async def close() -> None:
            stop.set()
            await task

        stack.push_async_callback(close)

    def routes(self) -> list[web.RouteDef]:
        """The ``/mcp`` route (POST carries requests; other methods get 405)."""
        return [web.route("*", MCP_PATH, self._serve)]

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        found = self._gateway.guard.identify(request)
        if isinstance(found, web.Response):
            if found.status == 401:
                found.headers["WWW-Authenticate"] = 'Bearer realm="longboat"'
            return found
        if request.method != "POST":
            # Stateless: no session to end (DELETE), no server-initiated stream to open (GET);
            # the SDK would hold such a GET open with nothing to send.
            refused = error_answer(405, "method_not_allowed", "/mcp takes POST (stateless)")
            refused.headers["Allow"] = "POST"
            return refused
        body = await _bounded_body(request)
        if isinstance(body, web.Response):
            return body
        try:
            async with asyncio.timeout(self.timeout_s):
                response = await serve_asgi(
                    self._sessions.handle_request,
                    request,
                    body=body,
                    extra={_CALLER: _Caller(*found)},
                )
        except TimeoutError:
            message = f"the MCP request took longer than {self.timeout_s:.0f} s"
            return error_answer(503, "mcp_timeout", message, retryable=True)
        if response is None:
            return error_answer(503, "mcp_no_answer", "the MCP server sent no answer")
        return response

    def _input_schema(self, name: str) -> dict[str, Any] | None:
        definition = self._gateway.catalogue.served(name)
        if definition is not None:
            return dict(definition.input_schema)
        return dict(_OPEN_SCHEMA) if name in self._gateway.tools.specs else None

    async def _list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        caller = _caller(ctx)
        gateway = self._gateway
        candidates: list[tuple[Resource, Tool]] = []
        for name in gateway.catalogue.names:
            definition = gateway.catalogue.served(name)
            # Unapproved (new or drifted) definitions are never shown: they cannot be called.
            if definition is not None and gateway.catalogue.approved(definition):
                resource = Resource(
                    kind="tool",
                    name=name,
                    server=definition.server,
                    tool=definition.tool,
                    annotations=definition.hints,
                )
                candidates.append((resource, _listed(definition)))
        for name, spec in gateway.tools.specs.items():
            candidates.append((Resource(kind="tool", name=name), _plain(name, spec.kind)))
        allowed = await asyncio.gather(
            *(
                gateway.allowed(caller.facts, "tool.list", resource, PolicyContext())
                for resource, _ in candidates
            )
        )
        pairs = zip(candidates, allowed, strict=True)
        shown = [tool for (_, tool), ok in pairs if isinstance(ok, str)]
        return ListToolsResult(tools=sorted(shown, key=lambda t: t.name))

    async def _call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: CallToolRequestParams
    ) -> CallToolResult:
        caller = _caller(ctx)
        try:
            key = idempotency_key(params.meta)
            body = ToolInvocation(
                arguments=_JSON.validate_python(params.arguments or {}),
                # No key from the client: a fresh one, so this request runs at most once.
                idempotency_key=key or f"mcp-{uuid.uuid4().hex}",
                workflow_id=meta_text(params.meta, WORKFLOW_META_KEY),
                run_id=meta_text(params.meta, RUN_META_KEY),
            )
        except (ValueError, ValidationError) as e:
            return _refused(ErrorBody(error="invalid_request", message=str(e)))
        response = await self._gateway.invoke_tool(params.name, body, caller.identity, caller.facts)
        return call_result(response)


async def _bounded_body(request: web.Request) -> bytes | web.Response:
    """The request body, bounded and strict JSON (the SDK parses it again, leniently)."""
    try:
        if (request.content_length or 0) > _MAX_BODY_BYTES:
            raise JsonTooLarge(request.content_length or 0, _MAX_BODY_BYTES)
        body = await request.read()
        loads_strict(body, limit=_MAX_BODY_BYTES)
    except JsonTooLarge as e:
        return error_answer(413, e.code, str(e))
    except JsonInvalid as e:
        return error_answer(400, e.code, str(e))
    return body
