"""Reconcile hooks: an in-doubt call of a non-idempotent MCP tool is checked, not refused.

A call is in doubt when the ledger holds its ``started`` record but no result (a gateway
stopped mid-call): the effect may or may not have happened. A server's ``reconcile`` entry
names, per tool, a read-only tool of the same server that the gateway calls with the
idempotency key (as the hook's ``argument`` and in ``_meta``); it answers
``{"happened": true, "result": ...}`` (the gateway records that result as the call's outcome:
the agent gets it, no second effect) or ``{"happened": false}`` (nothing took effect: the call
runs now). A reconcile tool that is not approved, fails, or answers anything else leaves the
call in doubt (``tool_in_doubt``); one that does not answer is retryable (``tool_unavailable``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx2
from mcp import MCPError
from pydantic import JsonValue, ValidationError

from longboat import describe_errors, get_logger
from longboat.gateway._mcp import ReconcileAnswer, ReconcileHook, ToolDefinition
from longboat.gateway._tools import Reconcile, ToolInDoubt, ToolUnavailable

if TYPE_CHECKING:
    from longboat.gateway._service import GatewayService

__all__ = ["reconciler"]

_log = get_logger("gateway.reconcile")


def reconciler(gateway: GatewayService, definition: ToolDefinition, key: str) -> Reconcile | None:
    """The reconcile step for ``definition``'s calls under ``key``, if its server names one."""
    hook = gateway.upstreams.specs[definition.server].reconcile.get(definition.tool)
    if hook is None:
        return None

    async def reconcile() -> tuple[JsonValue, list[str]] | None:
        return await _ask(gateway, definition, hook, key)

    return reconcile


async def _ask(
    gateway: GatewayService, definition: ToolDefinition, hook: ReconcileHook, key: str
) -> tuple[JsonValue, list[str]] | None:
    checker = gateway.catalogue.served(f"{definition.server}.{hook.tool}")
    where = f"tool {definition.name} (in doubt; reconcile tool {definition.server}.{hook.tool})"
    if checker is None or not gateway.catalogue.approved(checker):
        raise ToolInDoubt(
            f"{where}: the reconcile tool's definition is not approved; approve it "
            "(`longboat tools approve`) and retry with the same key"
        )
    try:
        upstream = await gateway.upstreams.call(checker, {hook.argument: key}, key)
    except (MCPError, OSError, httpx2.HTTPError, TimeoutError) as e:
        raise ToolUnavailable(f"{where} did not answer: {type(e).__name__}: {e}") from e
    if upstream.is_error:
        raise ToolInDoubt(f"{where} reported an error: {str(upstream.result)[:300]}")
    try:
        answer = ReconcileAnswer.model_validate(upstream.result)
    except ValidationError as e:
        raise ToolInDoubt(
            f"{where} answered {str(upstream.result)[:200]}, not "
            f'{{"happened": true|false, "result": ...}}: {describe_errors(e)}'
        ) from e
    _log.info("tool_reconciled", tool=definition.name, happened=answer.happened)
    if not answer.happened:
        return None
    report = await gateway.classify(answer.result)
    return answer.result, report.kinds
