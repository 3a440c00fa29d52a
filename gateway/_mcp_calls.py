"""One governed ``tools/call`` of an upstream MCP tool, exactly once per idempotency key.

The order is the guarantee: the served definition must be approved (else refused and logged);
the arguments are classified for PII *before* the policy sees them; OPA decides on the agent,
server, tool, arguments and annotations (logged to ``lb.decisions``, arguments redacted when
they hold personal data); the ledger records ``started`` before the upstream call and the
result (its PII kinds with it) before the answer.

In-doubt rule (a key found started but never completed, e.g. a gateway was SIGKILLed mid-call):
the call is repeated with the same key only if the tool is annotated idempotent or declares an
``idempotency_key`` argument (it dedupes by itself); else, when its server names a reconcile
hook for it, the hook says whether it took effect (``_reconcile.py``); otherwise it is refused
with ``tool_in_doubt`` (409) and an operator decides — never blindly repeated.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import httpx2
from aiohttp import web
from mcp import MCPError
from pydantic import JsonValue

from longboat.gateway._approval_gate import Cleared, clear_tool_call
from longboat.gateway._decision import (
    AgentFacts,
    PiiFindingFact,
    PolicyContext,
    PolicyDecision,
    PolicyInput,
    Resource,
)
from longboat.gateway._mcp import ToolDefinition
from longboat.gateway._protocol import ToolInvocation, ToolResult, answer, error_answer
from longboat.gateway._reconcile import reconciler
from longboat.gateway._tools import ToolFailed, ToolInDoubt, ToolUnavailable
from longboat.registry import VerifiedIdentity

if TYPE_CHECKING:
    from longboat.gateway._service import GatewayService

__all__ = ["invoke_mcp_tool"]


async def invoke_mcp_tool(
    gateway: GatewayService,
    definition: ToolDefinition,
    body: ToolInvocation,
    identity: VerifiedIdentity,
    facts: AgentFacts,
) -> web.Response:
    """Answer ``POST /v1/tools/<server>.<tool>/invoke`` for an MCP tool."""
    arguments = {} if body.arguments is None else body.arguments
    if not isinstance(arguments, dict):
        message = f"tool {definition.name}: 'arguments' must be a JSON object (MCP tools/call)"
        return error_answer(400, "invalid_request", message)
    report = await gateway.classify(arguments)
    resource = Resource(
        kind="tool",
        name=definition.name,
        server=definition.server,
        tool=definition.tool,
        annotations=definition.hints,
    )
    context = PolicyContext(
        workflow_id=body.workflow_id,
        run_id=body.run_id,
        pii=report.kinds,
        pii_findings=[PiiFindingFact(kind=f.kind, location=f.location) for f in report.findings],
        pii_signals=report.signals,
        arguments=arguments,
    )
    if not gateway.catalogue.approved(definition):
        return await _unapproved(gateway, definition, facts, resource, context)
    key = f"{identity.agent_id}:{body.idempotency_key}"  # per agent, as for every tool
    cleared = await clear_tool_call(
        gateway, identity=identity, facts=facts, resource=resource, context=context, key=key
    )
    if not isinstance(cleared, Cleared):
        return cleared  # denied, or parked for a person, or refused by one
    if not isinstance(cleared.arguments, dict):
        message = f"tool {definition.name}: the approved arguments are not a JSON object"
        return error_answer(422, "tool_failed", message, retryable=False)
    arguments = cleared.arguments

    async def call() -> tuple[JsonValue, list[str]]:
        return await _call_upstream(gateway, definition, arguments, key)

    if definition.hints.read_only is True:
        return await _read_only(gateway, definition, call, cleared.decision_id)
    rerun = bool(definition.hints.idempotent) or definition.takes_key
    try:
        entry, executed = await gateway.ledger.once(
            key,
            definition.name,
            identity.agent_id,
            call,
            record_start=True,
            rerun_in_doubt=rerun,
            reconcile=reconciler(gateway, definition, key),
        )
    except ToolUnavailable as e:
        return error_answer(503, e.code, str(e), retryable=True)
    except ToolFailed as e:
        return error_answer(422, e.code, str(e), retryable=False)
    except ToolInDoubt as e:
        return error_answer(409, e.code, str(e), retryable=False)
    gateway.metrics.tool_called(definition.name, executed)
    return answer(
        ToolResult(
            result=entry.result, executed=executed, decision_id=cleared.decision_id, pii=entry.pii
        )
    )


async def _read_only(
    gateway: GatewayService,
    definition: ToolDefinition,
    call: Callable[[], Awaitable[tuple[JsonValue, list[str]]]],
    decision_id: str,
) -> web.Response:
    """Call a tool approved as ``readOnlyHint: true`` without the ledger's two durable writes.

    It has no effect to keep once, so a retry may ask again; the calling step journals the
    answer, so a replay still sees the same one.
    """
    try:
        result, pii = await call()
    except ToolUnavailable as e:
        return error_answer(503, e.code, str(e), retryable=True)
    except ToolFailed as e:
        return error_answer(422, e.code, str(e), retryable=False)
    gateway.metrics.tool_called(definition.name, True)
    return answer(ToolResult(result=result, executed=True, decision_id=decision_id, pii=pii))


async def _unapproved(
    gateway: GatewayService,
    definition: ToolDefinition,
    facts: AgentFacts,
    resource: Resource,
    context: PolicyContext,
) -> web.Response:
    """Refuse (and log) a call of a definition no operator approved: new, or drifted."""
    reason = (
        f"tool {definition.name}: its definition {definition.digest} is not approved (new, or "
        "changed since approval); an operator runs "
        f"`longboat tools approve {definition.name} {definition.digest}` after reviewing it"
    )
    refused = PolicyDecision(allow=False, reasons=[reason])
    policy_input = PolicyInput(
        agent=facts, action="tool.invoke", resource=resource, context=context
    )
    decision_id = await gateway.log_decision(policy_input, refused, "gateway", time.perf_counter())
    return error_answer(403, "tool_not_approved", reason, reasons=[reason], decision_id=decision_id)


async def _call_upstream(
    gateway: GatewayService,
    definition: ToolDefinition,
    arguments: dict[str, JsonValue],
    key: str,
) -> tuple[JsonValue, list[str]]:
    """The upstream answer and the PII kinds in it (classified before the ledger stores it)."""
    try:
        upstream = await gateway.upstreams.call(definition, arguments, key)
    except (MCPError, OSError, httpx2.HTTPError, TimeoutError) as e:
        raise ToolUnavailable(
            f"MCP server {definition.server} did not answer {definition.tool}: "
            f"{type(e).__name__}: {e}"
        ) from e
    if upstream.is_error:
        raise ToolFailed(f"tool {definition.name} reported an error: {str(upstream.result)[:300]}")
    report = await gateway.classify(upstream.result)
    return upstream.result, report.kinds
