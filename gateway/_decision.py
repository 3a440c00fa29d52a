"""The policy input and decision documents (what the gateway asks OPA, and what it logs)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from longboat import RecordCodec, traced, tracing_enabled

__all__ = [
    "DECISION_RECORDS",
    "Action",
    "AgentFacts",
    "ApprovalFact",
    "ApprovalRequirement",
    "BudgetFact",
    "DecisionRecord",
    "PiiFindingFact",
    "PolicyContext",
    "PolicyDecision",
    "PolicyInput",
    "Resource",
    "ToolHints",
    "trace_decision",
]

Action = Literal[
    "memory.read",
    "memory.write",
    "memory.delete",
    "memory.search",
    "profile.read",
    "profile.write",
    "tool.invoke",
    "tool.list",
    "policy.decide",
    "model.invoke",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AgentFacts(_Frozen):
    """What the registry says about the caller."""

    id: str
    version: str
    status: str
    capabilities: list[dict[str, str]]
    risk_tier: str
    owner: str


class ToolHints(_Frozen):
    """An MCP tool's annotations, as its approved definition states them (None: not stated).

    ``readOnlyHint``, ``destructiveHint``, ``idempotentHint``, ``openWorldHint`` in MCP terms.
    """

    read_only: bool | None = None
    destructive: bool | None = None
    idempotent: bool | None = None
    open_world: bool | None = None


class Resource(_Frozen):
    """What is being accessed (for an MCP tool also its server, tool name and annotations)."""

    kind: Literal["memory", "profile", "tool", "policy", "model"]
    name: str
    key: str | None = None
    server: str | None = None
    tool: str | None = None
    annotations: ToolHints | None = None


class PiiFindingFact(_Frozen):
    """One PII kind found in one place of a write (``key``, ``value`` or ``metadata``)."""

    kind: str
    location: Literal["key", "value", "metadata"]


class BudgetFact(_Frozen):
    """What one budget's current window has spent (for ``model.invoke``; see docs/models.md)."""

    budget: str
    window_s: int | None = None
    tokens: int = 0
    cost: float = 0.0
    resets_at: datetime | None = None


class PolicyContext(_Frozen):
    """Why: the workflow and run, and what the PII classifier found in what is written.

    ``pii`` lists the kinds; ``pii_findings`` says where each was found; ``pii_signals`` names
    the obfuscations normalisation undid (``format_characters``, ``compatibility_forms``,
    ``mixed_scripts``), so policies can be stricter than the kinds alone allow.
    """

    workflow_id: str | None = None
    run_id: str | None = None
    pii: list[str] = Field(default_factory=list)
    pii_findings: list[PiiFindingFact] = Field(default_factory=list)
    pii_signals: list[str] = Field(default_factory=list)
    budgets: list[BudgetFact] = Field(default_factory=list)
    arguments: JsonValue = Field(
        default=None, description="an MCP tool call's arguments (redacted in the decision log)"
    )


class PolicyInput(_Frozen):
    """The document OPA evaluates: ``{agent, action, resource, context}``."""

    agent: AgentFacts
    action: Action
    resource: Resource
    context: PolicyContext


class ApprovalRequirement(_Frozen):
    """A policy's ``require_approval`` verdict on an allowed tool call: park it for a person.

    ``reasons`` are shown to the approver; ``timeout_s`` bounds the wait (then the call fails
    with ``approval_timeout``).
    """

    reasons: list[str] = Field(min_length=1)
    timeout_s: int = Field(default=3600, ge=1, le=30 * 86400)


class PolicyDecision(_Frozen):
    """OPA's answer, or the gateway's fail-closed stand-in.

    ``allow`` stays a strict boolean; ``approval`` (tool calls only) means "allowed once a
    person approves it". A denial ignores it.
    """

    allow: bool
    reasons: list[str] = Field(default_factory=list)
    obligations: list[str] = Field(default_factory=list)
    approval: ApprovalRequirement | None = None


class ApprovalFact(_Frozen):
    """In the decision log: the operator's approval a tool call runs under.

    ``input.context.arguments`` holds the arguments the call runs with; ``requested_arguments``
    the agent's, when the approver edited them (both redacted if either holds personal data).
    """

    approval_id: str
    by: str
    note: str | None = None
    edited: bool = False
    requested_arguments: JsonValue = None


class DecisionRecord(_Frozen):
    """One line of ``lb.decisions``: every decision, allow or deny.

    For a governed policy question (action ``policy.decide``) ``answer`` is the policy's own
    decision document (e.g. a moderation verdict) and ``decision.allow`` says whether the
    question was answered; the question itself is not kept (it may hold personal data).
    """

    decision_id: str
    time: datetime
    gateway: str
    policy_digest: str | None
    input: PolicyInput
    decision: PolicyDecision
    duration_ms: float
    source: Literal["opa", "fail_closed", "gateway"] = Field(
        description="gateway: refused before asking OPA (an unapproved tool definition)"
    )
    answer: dict[str, JsonValue] | None = None
    approval: ApprovalFact | None = None


DECISION_RECORDS: RecordCodec[DecisionRecord] = RecordCodec(DecisionRecord)
"""The serde of ``lb.decisions`` values (key: the calling agent's id)."""


def trace_decision(
    policy_input: PolicyInput,
    decision: PolicyDecision,
    *,
    source: str,
    policy_digest: str | None,
    decision_id: str,
    duration_s: float,
) -> None:
    """Record one decision as a span (recorded after the fact, over the time it took).

    A child of the request's span, so it sits under the agent step that asked (the step's
    ``traceparent`` travels with the request). Nothing happens when tracing is off.
    """
    if not tracing_enabled():
        return
    resource = policy_input.resource
    with traced(
        f"policy {policy_input.action}",
        start_ns=time.time_ns() - int(duration_s * 1e9),
        attributes={
            "longboat.decision.id": decision_id,
            "longboat.decision.result": "allow" if decision.allow else "deny",
            "longboat.decision.source": source,
            "longboat.decision.reasons": "; ".join(decision.reasons) or None,
            "longboat.decision.obligations": ",".join(decision.obligations) or None,
            "longboat.policy.digest": policy_digest,
            "longboat.policy.action": policy_input.action,
            "longboat.policy.resource.kind": resource.kind,
            "longboat.policy.resource.name": resource.name,
            "longboat.policy.resource.key": resource.key,
            "longboat.agent.id": policy_input.agent.id,
            "longboat.workflow_id": policy_input.context.workflow_id,
            "longboat.run_id": policy_input.context.run_id,
        },
    ) as span:
        if not decision.allow:
            span.fail("denied: " + "; ".join(decision.reasons))
