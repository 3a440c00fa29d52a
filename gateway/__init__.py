"""The policy gateway between agents and their memory and tools.

Every request carries the agent's registry token; the gateway builds the policy input
``{agent, action, resource, context}``, asks OPA (fail closed), logs the decision to
``lb.decisions`` and only then reads or writes memory or calls a tool. See docs/policies.md.
"""

from gateway._bundle import GatewayPolicyStatus, PolicyBundle
from gateway._client import GatewayClient, PolicyDenied
from gateway._decision import DecisionRecord, PolicyDecision, PolicyInput
from gateway._memory import MemoryAudit, MemoryItem
from gateway._opa import PolicyEngine, PolicyRejected
from gateway._pii import classify
from gateway._service import GatewayService
from gateway._settings import GatewayServiceSettings, GatewaySettings
from gateway._tools import ToolRegistry

__all__ = [
    "DecisionRecord",
    "GatewayClient",
    "GatewayPolicyStatus",
    "GatewayService",
    "GatewayServiceSettings",
    "GatewaySettings",
    "MemoryAudit",
    "MemoryItem",
    "PolicyBundle",
    "PolicyDecision",
    "PolicyDenied",
    "PolicyEngine",
    "PolicyInput",
    "PolicyRejected",
    "ToolRegistry",
    "classify",
]
