"""The approval gate every governed tool call passes: decide, park for a person, or clear it.

Order (the guarantee): the arguments are classified for PII, the policy decides on them, and
only an allowed call is either cleared or — when the policy answers ``require_approval`` —
parked in ``lb.tools.approvals`` (``202``, nothing executed). The same key asked again finds
the parked approval instead of asking the policy again: pending stays ``202``, rejected is
``403 tool_rejected``, expired ``409 approval_timeout``, approved is decided once more on the
arguments it runs with (the approver's edit, re-classified) and logged with the approver, then
cleared to run once through the tool ledger under the original key.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web
from pydantic import JsonValue

from longboat import get_logger, utc_now
from longboat.gateway._approvals import (
    ApprovalAnswer,
    ToolApproval,
    approval_id,
    deadline_after,
)
from longboat.gateway._decision import (
    AgentFacts,
    ApprovalFact,
    PiiFindingFact,
    PolicyContext,
    PolicyDecision,
    PolicyInput,
    Resource,
)
from longboat.gateway._opa import refusal
from longboat.gateway._protocol import ToolInvocation, answer, error_answer
from longboat.registry import VerifiedIdentity

if TYPE_CHECKING:
    from longboat.gateway._service import GatewayService

__all__ = ["Cleared", "approval_status", "clear_tool_call", "tool_context"]

_log = get_logger("gateway.approvals")
# A long-poll answers within this: below every client's request timeout (30 s by default).
_MAX_WAIT_S = 25.0
_REDACTED = "[redacted: personal data]"


@dataclass(frozen=True)
class Cleared:
    """A tool call the policy (and, if asked for, a person) allowed: run it with ``arguments``."""

    decision_id: str
    arguments: JsonValue


async def tool_context(
    gateway: GatewayService, body: ToolInvocation, arguments: JsonValue
) -> PolicyContext:
    """The policy context of a tool call: its arguments and the PII kinds found in them."""
    report = await gateway.classify(arguments)
    return PolicyContext(
        workflow_id=body.workflow_id,
        run_id=body.run_id,
        pii=report.kinds,
        pii_findings=[PiiFindingFact(kind=f.kind, location=f.location) for f in report.findings],
        pii_signals=report.signals,
        arguments=arguments,
    )


async def clear_tool_call(
    gateway: GatewayService,
    *,
    identity: VerifiedIdentity,
    facts: AgentFacts,
    resource: Resource,
    context: PolicyContext,
    key: str,
) -> Cleared | web.Response:
    """Cleared to run, or the answer to send (403 denied, 202 parked, a resolved refusal)."""
    known = gateway.approvals.of_key(key)
    if known is None:
        return await _first_ask(gateway, identity, facts, resource, context, key)
    if known.tool != resource.name:
        # An approval answers one call: it never lends itself to another tool under its key.
        message = f"idempotency key already names a call of tool {known.tool} ({known.id})"
        return error_answer(409, "invalid_request", message, retryable=False)
    if known.overdue(utc_now()):
        known = await gateway.approvals.expire(known)
    return await _resume(gateway, known, facts, resource, context)


async def _decide(
    gateway: GatewayService,
    policy_input: PolicyInput,
    approval: ApprovalFact | None = None,
) -> tuple[PolicyDecision, str]:
    started = time.perf_counter()
    decision, source = await gateway.engine.decide(policy_input)
    decision_id = await gateway.log_decision(
        policy_input, decision, source, started, approval=approval
    )
    return decision, decision_id


def _denied(decision: PolicyDecision, decision_id: str) -> web.Response:
    return refusal(decision, decision_id)


async def _first_ask(
    gateway: GatewayService,
    identity: VerifiedIdentity,
    facts: AgentFacts,
    resource: Resource,
    context: PolicyContext,
    key: str,
) -> Cleared | web.Response:
    policy_input = PolicyInput(
        agent=facts, action="tool.invoke", resource=resource, context=context
    )
    decision, decision_id = await _decide(gateway, policy_input)
    if not decision.allow:
        return _denied(decision, decision_id)
    if decision.approval is None:
        return Cleared(decision_id, context.arguments)
    requested = ToolApproval(
        id=approval_id(key),
        key=key,
        agent=identity.agent_id,
        version=identity.version,
        tool=resource.name,
        arguments=context.arguments,
        pii=context.pii,
        reasons=decision.approval.reasons,
        decision_id=decision_id,
        policy_digest=gateway.policies.active.digest if gateway.policies.active else None,
        workflow_id=context.workflow_id,
        run_id=context.run_id,
        requested_at=utc_now(),
        deadline=deadline_after(decision.approval.timeout_s),
    )
    # Durable before answered: a restarted agent (or another replica) finds the same approval.
    parked = await gateway.approvals.request(requested)
    _log.info(
        "tool_call_parked",
        agent_id=identity.agent_id,
        tool=resource.name,
        approval_id=parked.id,
        run_id=context.run_id,
    )
    return await _resume(gateway, parked, facts, resource, context)


async def _resume(
    gateway: GatewayService,
    known: ToolApproval,
    facts: AgentFacts,
    resource: Resource,
    context: PolicyContext,
) -> Cleared | web.Response:
    if known.state == "pending":
        return answer(ApprovalAnswer.of(known), status=202)
    if known.state == "rejected":
        message = (
            f"tool {known.tool}: {known.resolved_by} rejected the call "
            f"(approval {known.id}): {known.note or 'no note'}"
        )
        return error_answer(403, "tool_rejected", message, retryable=False)
    if known.state == "expired":
        message = (
            f"tool {known.tool}: nobody approved the call (approval {known.id}) before its "
            f"deadline {known.deadline.isoformat()}"
        )
        return error_answer(409, "approval_timeout", message, retryable=False)
    return await _approved(gateway, known, facts, resource, context)


async def _approved(
    gateway: GatewayService,
    known: ToolApproval,
    facts: AgentFacts,
    resource: Resource,
    context: PolicyContext,
) -> Cleared | web.Response:
    """Decide once more on what runs (the edit is classified anew), logged with the approver.

    A person's approval answers the policy's ``require_approval``, not its denials: edited
    arguments the policy refuses are refused like any call.
    """
    arguments = known.effective_arguments
    if known.edited:
        body = ToolInvocation(
            arguments=arguments,
            idempotency_key=known.key,
            workflow_id=context.workflow_id,
            run_id=context.run_id,
        )
        context = await tool_context(gateway, body, arguments)
    fact = ApprovalFact(
        approval_id=known.id,
        by=known.resolved_by or "unknown",
        note=known.note,
        edited=known.edited,
        requested_arguments=(_REDACTED if known.pii else known.arguments) if known.edited else None,
    )
    policy_input = PolicyInput(
        agent=facts, action="tool.invoke", resource=resource, context=context
    )
    decision, decision_id = await _decide(gateway, policy_input, approval=fact)
    if not decision.allow:
        return _denied(decision, decision_id)
    return Cleared(decision_id, arguments)


async def approval_status(
    gateway: GatewayService, request: web.Request, identity: VerifiedIdentity
) -> web.Response:
    """``GET /v1/tools/approvals/{id}?wait_s=N``: the caller's own approval, long-polled.

    Waiting holds no thread and no CPU: the request sleeps on the book's change event until
    the approval changes, ``wait_s`` (at most 25) passes, or its deadline does.
    """
    known = gateway.approvals.get(request.match_info["id"])
    if known is None or known.agent != identity.agent_id:
        # Another agent's approval is not even confirmed to exist.
        return error_answer(404, "not_found", "no such tool approval of this agent")
    try:
        wait_s = min(float(request.query.get("wait_s", "0")), _MAX_WAIT_S)
    except ValueError:
        return error_answer(400, "invalid_request", "wait_s must be a number of seconds")
    until = time.monotonic() + wait_s
    while known.state == "pending" and (left := until - time.monotonic()) > 0:
        to_deadline = (known.deadline - utc_now()).total_seconds()
        if to_deadline <= 0:
            break
        await gateway.approvals.changed(min(left, to_deadline))
        known = gateway.approvals.get(known.id) or known
    if known.overdue(utc_now()):
        known = await gateway.approvals.expire(known)
    return answer(ApprovalAnswer.of(known))
