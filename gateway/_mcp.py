"""Upstream MCP servers behind the gateway: declared, connected, discovered and called.

A server is declared in the tools file next to the other tools (``kind: mcp``)::

    {"tools": {
        "files": {"kind": "mcp", "transport": "stdio", "command": "python",
                  "args": ["-m", "files_server"], "env_from": {"FILES_TOKEN": "GW_FILES_TOKEN"}},
        "crm":   {"kind": "mcp", "transport": "http", "url": "http://crm.internal/mcp",
                  "headers_from": {"Authorization": "GW_CRM_AUTHORIZATION"}}
    }}

Its tools are called ``<server>.<tool>`` (``files.read``). Credentials are named, never written:
``env_from``/``headers_from`` map a child variable or header to a variable of the *gateway's*
environment, read when the gateway starts; agents never see them.

Sessions are opened when the gateway starts (its exit stack) and closed when it stops. The
MCP SDK is imported only here and the answers are turned into typed models
(:class:`ToolDefinition`) and JSON values, so nothing of the SDK leaks into the gateway.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any, Literal, cast

import httpx2
from mcp import Client, MCPError, StdioServerParameters
from mcp.client import Transport
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.types import CallToolResult, RequestParamsMeta, Tool
from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter, model_validator

from longboat.errors import ConfigError
from longboat.gateway._decision import ToolHints
from longboat.gateway._mcp_lean import LeanDispatcher, LeanWire

__all__ = [
    "IDEMPOTENCY_META_KEY",
    "McpServerSpec",
    "McpUpstreams",
    "ReconcileAnswer",
    "ReconcileHook",
    "ToolDefinition",
    "UpstreamAnswer",
]

# Where the gateway puts the idempotency key in every upstream ``tools/call``'s ``_meta``.
# Upstream servers may rely on it: never change it.
IDEMPOTENCY_META_KEY = "io.longboat/idempotency-key"
_JSON: TypeAdapter[JsonValue] = TypeAdapter(JsonValue)


class ReconcileHook(BaseModel):
    """How to find out whether an in-doubt call of a tool took effect: a read-only tool of the
    same server, called with the call's idempotency key (docs/tools.md, "Reconcile hooks")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tool: str = Field(min_length=1, description="a read-only tool of the same server")
    argument: str = Field(
        default="idempotency_key", min_length=1, description="the argument given the key"
    )


class ReconcileAnswer(BaseModel):
    """What a reconcile tool answers (its structured result): whether the call with that key
    took effect and, if it did, the result to record for it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    happened: bool
    result: JsonValue = None


class McpServerSpec(BaseModel):
    """An upstream MCP server (stdio: a command the gateway starts; http: a Streamable HTTP URL)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["mcp"]
    transport: Literal["stdio", "http"]
    command: str | None = Field(default=None, description="stdio: the program to start")
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict, description="stdio: plain variables")
    env_from: dict[str, str] = Field(
        default_factory=dict, description="stdio: variable -> name of a gateway env variable"
    )
    url: str | None = Field(default=None, pattern=r"^https?://")
    headers: dict[str, str] = Field(default_factory=dict, description="http: plain headers")
    headers_from: dict[str, str] = Field(
        default_factory=dict, description="http: header -> name of a gateway env variable"
    )
    timeout_s: float = Field(default=30, gt=0, le=600)
    lean_calls: bool = Field(
        default=True,
        description="http: send tools/call as one JSON-RPC POST on the SDK's session (the SDK "
        "path for anything but a plain JSON answer); false: every call through the SDK client",
    )
    reconcile: dict[str, ReconcileHook] = Field(
        default_factory=dict,
        description="tool -> its reconcile hook (in-doubt calls are checked, not refused)",
    )

    @model_validator(mode="after")
    def _transport_fields(self) -> McpServerSpec:
        if self.transport == "stdio" and not self.command:
            raise ValueError("transport stdio needs 'command' (and optional 'args')")
        if self.transport == "http" and not self.url:
            raise ValueError("transport http needs 'url' (http:// or https://)")
        return self


class ToolDefinition(BaseModel):
    """One discovered tool, as approved or refused: its digest covers everything else."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    server: str
    tool: str
    description: str
    input_schema: dict[str, JsonValue]
    hints: ToolHints
    digest: str

    @property
    def name(self) -> str:
        """``server.tool``: the name agents and policies use."""
        return f"{self.server}.{self.tool}"

    @property
    def takes_key(self) -> bool:
        """Whether the tool declares an ``idempotency_key`` argument (it dedupes by itself)."""
        properties = self.input_schema.get("properties")
        return isinstance(properties, dict) and "idempotency_key" in properties


def definition_digest(
    tool: str, description: str, input_schema: JsonValue, hints: ToolHints
) -> str:
    """SHA-256 over the canonical JSON of what an operator approves. Never change the format:
    a change would make every approved tool look drifted."""
    document = {
        "name": tool,
        "description": description,
        "input_schema": input_schema,
        "annotations": hints.model_dump(mode="json"),
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _definition(server: str, tool: Tool) -> ToolDefinition:
    notes = tool.annotations
    hints = ToolHints(
        read_only=notes.read_only_hint if notes else None,
        destructive=notes.destructive_hint if notes else None,
        idempotent=notes.idempotent_hint if notes else None,
        open_world=notes.open_world_hint if notes else None,
    )
    schema = _JSON.validate_python(json.loads(json.dumps(tool.input_schema)))
    assert isinstance(schema, dict)
    description = tool.description or ""
    return ToolDefinition(
        server=server,
        tool=tool.name,
        description=description,
        input_schema=schema,
        hints=hints,
        digest=definition_digest(tool.name, description, schema, hints),
    )


class UpstreamAnswer(BaseModel):
    """What an upstream ``tools/call`` returned: its JSON result, or the tool's own error."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    result: JsonValue
    is_error: bool


def _secret(server: str, field: str, variable: str) -> str:
    value = os.environ.get(variable)
    if value is None:
        raise ConfigError(
            f"tools.{server}.{field}: the gateway's environment has no {variable}; set it "
            "(the gateway holds the credential, the agent never does)"
        )
    return value


class McpUpstreams:
    """Open sessions to the declared MCP servers; lists and calls their tools."""

    def __init__(
        self,
        specs: dict[str, McpServerSpec],
        *,
        counted: Callable[[str, str], None] = lambda server, path: None,
    ) -> None:
        """Keep the specs; nothing connects until :meth:`open`. ``counted(server, path)`` is
        told the path each ``tools/call`` of an http server took (``lean`` or ``sdk:<why>``)."""
        self.specs = specs
        self._clients: dict[str, Client] = {}
        self._counted = counted
        self._wires: dict[str, LeanWire] = {}

    async def open(self, stack: AsyncExitStack) -> None:
        """Connect every server on ``stack`` (closed with the gateway).

        Raises:
            ConfigError: A credential variable is missing or a server cannot be reached.
        """
        for name, spec in self.specs.items():
            client = Client(self._transport(name, spec), read_timeout_seconds=spec.timeout_s)
            try:
                self._clients[name] = await stack.enter_async_context(client)
            except (OSError, MCPError, httpx2.HTTPError) as e:
                where = spec.url or spec.command
                raise ConfigError(
                    f"tools.{name}: cannot open an MCP session with {where}: {e}"
                ) from e
            if (wire := self._wires.get(name)) is not None:
                stack.push_async_callback(wire.close)
                # Under the SDK's session, so only the wire of tools/call changes (_mcp_lean.py).
                session = cast(Any, self._clients[name].session)
                session._dispatcher = LeanDispatcher(session._dispatcher, wire)

    def _transport(self, name: str, spec: McpServerSpec) -> StdioServerParameters | Transport:
        if spec.transport == "stdio":
            assert spec.command is not None
            env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "PYTHONPATH")}
            env |= spec.env
            env |= {k: _secret(name, "env_from", v) for k, v in spec.env_from.items()}
            command = sys.executable if spec.command == "python" else spec.command
            return StdioServerParameters(command=command, args=spec.args, env=env)
        assert spec.url is not None
        headers = dict(spec.headers)
        headers |= {k: _secret(name, "headers_from", v) for k, v in spec.headers_from.items()}
        http = create_mcp_http_client(headers)
        if spec.lean_calls:
            wire = LeanWire(server=name, url=spec.url, headers=headers, counted=self._counted)
            http.event_hooks = {
                "request": [wire.observe_request],
                "response": [wire.observe_response],
            }
            self._wires[name] = wire
        return streamable_http_client(spec.url, http_client=http)

    async def discover(self) -> list[ToolDefinition]:
        """Every tool of every server, with its digest (paginated listings followed).

        Raises:
            ConfigError: A reconcile hook names a tool the server does not serve, or a
                reconcile tool that is not annotated read-only.
        """
        found: list[ToolDefinition] = []
        for name, client in self._clients.items():
            cursor: str | None = None
            while True:
                listing = await client.list_tools(cursor=cursor, cache_mode="refresh")
                found.extend(_definition(name, tool) for tool in listing.tools)
                cursor = listing.next_cursor
                if not cursor:
                    break
        for name, spec in self.specs.items():
            _check_hooks(name, spec, {d.tool: d for d in found if d.server == name})
        return found

    async def call(
        self, definition: ToolDefinition, arguments: dict[str, JsonValue], key: str
    ) -> UpstreamAnswer:
        """Call the tool once, passing ``key`` in ``_meta`` (and as ``idempotency_key`` when the
        tool declares that argument).

        Raises:
            MCPError, OSError, httpx2.HTTPError: The session failed (the caller translates).
        """
        client = self._clients[definition.server]
        if definition.takes_key:
            arguments = {**arguments, "idempotency_key": key}
        meta = cast(RequestParamsMeta, {IDEMPOTENCY_META_KEY: key})  # an open map by the spec
        answer = await client.call_tool(definition.tool, arguments, meta=meta)
        return UpstreamAnswer(result=_result(answer), is_error=answer.is_error)


def _check_hooks(server: str, spec: McpServerSpec, served: dict[str, ToolDefinition]) -> None:
    for tool, hook in spec.reconcile.items():
        where = f"tools.{server}.reconcile.{tool}"
        for needed in (tool, hook.tool):
            if needed not in served:
                known = ", ".join(sorted(served)) or "none"
                raise ConfigError(f"{where}: server {server} serves no tool {needed!r} ({known})")
        if served[hook.tool].hints.read_only is not True:
            raise ConfigError(
                f"{where}: {hook.tool} is not annotated readOnlyHint: true; a reconcile tool "
                "must only look (the gateway calls it when a call is in doubt)"
            )


def _result(answer: CallToolResult) -> JsonValue:
    """The structured result when the tool gives one, else its content blocks as JSON."""
    if answer.structured_content is not None:
        return _JSON.validate_python(json.loads(json.dumps(answer.structured_content)))
    blocks = [block.model_dump(mode="json", exclude_none=True) for block in answer.content]
    return _JSON.validate_python(blocks)
