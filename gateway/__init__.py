"""The policy gateway between agents and their memory and tools.

Every request carries the agent's registry token; the gateway builds the policy input
``{agent, action, resource, context}``, asks OPA (fail closed), logs the decision to
``lb.decisions`` and only then reads or writes memory or calls a tool. Agents holding
``policy:<name>`` may also ask a governed policy question (``data.longboat.<name>.decision``).
Upstream MCP servers' tools are called as ``<server>.<tool>`` once an operator approved their
definition (:func:`approve_tool`). MCP-speaking agents reach the same governed tools at
``/mcp`` (Streamable HTTP; :class:`AgentTokenAuth` signs their requests). A policy may park a
tool call for a person (``require_approval``): see :mod:`._approvals`. See docs/policies.md and
docs/tools.md.
"""

from longboat.gateway._approvals import (
    APPROVAL_RECORDS,
    ApprovalAnswer,
    ApprovalBook,
    ApprovalTimeout,
    ToolApproval,
    ToolRejected,
    approval_id,
    read_approvals,
)
from longboat.gateway._budget_report import (
    DEFAULT_WARN_AT,
    BudgetStatus,
    budget_report,
    warn_at_of,
)
from longboat.gateway._bundle import (
    POLICY_RECORDS,
    GatewayPolicyStatus,
    PolicyBundle,
    PolicyRecord,
    bundle_key,
    check_bundle,
    publish_bundle,
)
from longboat.gateway._catalog import CATALOG_ENTRIES, CatalogEntry, approve_tool, read_catalogue
from longboat.gateway._client import BudgetExceeded, GatewayClient, PolicyDenied
from longboat.gateway._decision import (
    DECISION_RECORDS,
    ApprovalFact,
    ApprovalRequirement,
    DecisionRecord,
    PolicyDecision,
    PolicyInput,
)
from longboat.gateway._index import MemoryIndex
from longboat.gateway._mcp import IDEMPOTENCY_META_KEY, ToolDefinition
from longboat.gateway._mcp_auth import AgentTokenAuth
from longboat.gateway._memory import MEMORY_AUDITS, MEMORY_ITEMS, MemoryAudit, MemoryItem
from longboat.gateway._models import ModelAnswer, ModelCall
from longboat.gateway._opa import PolicyEngine, PolicyRejected
from longboat.gateway._pii import classify
from longboat.gateway._protocol import (
    ErrorBody,
    MemoryDeleted,
    MemoryDeletion,
    MemorySearch,
    MemorySearchResult,
    MemoryWrite,
    PolicyAnswer,
    PolicyQuestion,
    ProfileDocument,
    ToolInvocation,
    ToolResult,
)
from longboat.gateway._service import GatewayService
from longboat.gateway._settings import GatewayServiceSettings, GatewaySettings
from longboat.gateway._tools import LEDGER_ENTRIES, LedgerEntry, ToolRegistry
from longboat.gateway._usage import MODEL_USAGE, ModelsPolicyData, ModelUsage, window_bounds

__all__ = [
    "APPROVAL_RECORDS",
    "CATALOG_ENTRIES",
    "DECISION_RECORDS",
    "DEFAULT_WARN_AT",
    "IDEMPOTENCY_META_KEY",
    "LEDGER_ENTRIES",
    "MEMORY_AUDITS",
    "MEMORY_ITEMS",
    "MODEL_USAGE",
    "POLICY_RECORDS",
    "AgentTokenAuth",
    "ApprovalAnswer",
    "ApprovalBook",
    "ApprovalFact",
    "ApprovalRequirement",
    "ApprovalTimeout",
    "BudgetExceeded",
    "BudgetStatus",
    "CatalogEntry",
    "DecisionRecord",
    "ErrorBody",
    "GatewayClient",
    "GatewayPolicyStatus",
    "GatewayService",
    "GatewayServiceSettings",
    "GatewaySettings",
    "LedgerEntry",
    "MemoryAudit",
    "MemoryDeleted",
    "MemoryDeletion",
    "MemoryIndex",
    "MemoryItem",
    "MemorySearch",
    "MemorySearchResult",
    "MemoryWrite",
    "ModelAnswer",
    "ModelCall",
    "ModelUsage",
    "ModelsPolicyData",
    "PolicyAnswer",
    "PolicyBundle",
    "PolicyDecision",
    "PolicyDenied",
    "PolicyEngine",
    "PolicyInput",
    "PolicyQuestion",
    "PolicyRecord",
    "PolicyRejected",
    "ProfileDocument",
    "ToolApproval",
    "ToolDefinition",
    "ToolInvocation",
    "ToolRegistry",
    "ToolRejected",
    "ToolResult",
    "approval_id",
    "approve_tool",
    "budget_report",
    "bundle_key",
    "check_bundle",
    "classify",
    "publish_bundle",
    "read_approvals",
    "read_catalogue",
    "warn_at_of",
    "window_bounds",
]
