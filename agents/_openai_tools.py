"""Tool calls of an OpenAI Agents SDK agent as durable steps, and governed tools for it.

A function tool's invocation becomes ``ctx.step("openai_agents.tool.<name>", ...)`` over its
JSON arguments: a replay returns the recorded output instead of calling the tool again. A
governed tool (:func:`governed_tool`) is a function tool whose invocation is
``ctx.tool("server.tool", arguments)``: the gateway checks the policy, keys the call with the
step's fingerprint and records it in its ledger (MCP tools included).

Step order is the steps' identity, so ``run_agent`` runs one function tool at a time, in the
order the model asked for them (``max_function_tool_concurrency=1``).

Tool outputs are recorded as JSON (pydantic models dumped, other objects as ``str``) and the
recorded form is what the model sees, on the first run as on a replay.
"""

from __future__ import annotations

import copy
import json
import re
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import JsonValue

from longboat.agents._openai_model import current_context, jsonable, sdk
from longboat.errors import UsageError

__all__ = [
    "TOOL_STEP_PREFIX",
    "durable_tool",
    "durable_tools",
    "governed_tool",
    "tool_idempotency_key",
]

TOOL_STEP_PREFIX = "openai_agents.tool."

Invoker = Callable[[Any, str], Awaitable[Any]]

# Invokers of governed tools: ctx.tool is a step already, a second step around it would nest.
_GOVERNED: weakref.WeakSet[Invoker] = weakref.WeakSet()

# Hosted tools run at the model provider, inside the model call, so the model step records them.
_HOSTED = frozenset(
    {
        "CodeInterpreterTool",
        "FileSearchTool",
        "HostedMCPTool",
        "ImageGenerationTool",
        "ToolSearchTool",
        "WebSearchTool",
    }
)


def _function_name(name: str) -> str:
    """``files.charge`` -> ``files__charge``: model APIs allow ``[A-Za-z0-9_-]`` in names."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name.replace(".", "__"))[:64]


def governed_tool(
    name: str,
    *,
    description: str,
    parameters: dict[str, JsonValue],
    function_name: str | None = None,
    strict: bool = False,
) -> Any:
    """A function tool for an SDK agent that calls the Longboat tool ``name`` through the gateway.

    Args:
        name: The registered tool, e.g. ``files.charge`` (an MCP server's tool).
        description: What the model is told the tool does.
        parameters: The JSON schema of its arguments (e.g. the catalogue's ``input_schema``).
        function_name: The name the model sees (default ``name`` with ``.`` as ``__``).
        strict: Ask for the SDK's strict JSON schema mode.

    Returns:
        An SDK ``FunctionTool``; put it in the SDK agent's ``tools``. It runs only inside
        ``run_agent`` (it needs the run's ``ctx``).
    """
    if not name or not description:
        raise UsageError("governed_tool needs the tool's name and a description for the model")

    async def invoke(_tool_context: Any, arguments: str) -> JsonValue:
        ctx = current_context(f"governed tool {name}")
        try:
            parsed: JsonValue = json.loads(arguments or "{}")
        except ValueError as e:
            # Deterministic (the arguments are part of the recorded model response): the model
            # is told, and no step is spent on a call that cannot be made.
            return f"error: the arguments of {name} are not JSON ({e}); send a JSON object"
        return await ctx.tool(name, parsed)

    _GOVERNED.add(invoke)
    return sdk.FunctionTool(
        name=function_name or _function_name(name),
        description=description,
        params_json_schema=dict(parameters),
        on_invoke_tool=invoke,
        strict_json_schema=strict,
    )


def tool_idempotency_key() -> str:
    """Inside a function tool run by ``run_agent``: its step's idempotency key.

    The same on every attempt and after a crash (it is the step's fingerprint): pass it to the
    service the tool calls, so that a call re-run while in doubt takes effect once.

    Raises:
        UsageError: Called outside a function tool run by ``run_agent``.
    """
    return current_context("tool_idempotency_key()").idempotency_key


def durable_tool(tool: Any) -> Any:
    """``tool`` with its invocation as a recorded step (governed and hosted tools as they are).

    Raises:
        UsageError: A tool that would run outside any step (local computer/shell tools, an
            agent used as a tool): the message names it.
    """
    if type(tool).__name__ in _HOSTED:
        return tool
    if not isinstance(tool, sdk.FunctionTool):
        raise UsageError(
            f"tool {getattr(tool, 'name', tool)!r} ({type(tool).__name__}) runs on this machine "
            "outside any durable step: wrap it in a function tool"
        )
    if getattr(tool, "_is_agent_tool", False):
        raise UsageError(
            f"tool {tool.name!r} is an agent used as a tool: its inner run would nest steps; "
            "use a handoff, or a separate Longboat agent"
        )
    if tool.on_invoke_tool in _GOVERNED:
        return tool
    original: Invoker = tool.on_invoke_tool
    step_name = TOOL_STEP_PREFIX + tool.name

    async def invoke(tool_context: Any, arguments: str) -> JsonValue:
        ctx = current_context(f"tool {tool.name}")

        async def call(_: str) -> JsonValue:
            return jsonable(await original(tool_context, arguments))

        result: JsonValue = await ctx.step(step_name, call, arguments)
        return result

    wrapped = copy.copy(tool)
    wrapped.on_invoke_tool = invoke
    return wrapped


def durable_tools(tools: Sequence[Any]) -> list[Any]:
    """Every tool of an agent, made durable (see :func:`durable_tool`)."""
    return [durable_tool(t) for t in tools]
