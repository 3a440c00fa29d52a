package longboat.gateway_test

import data.longboat.gateway

_agent(status, caps) := {
	"id": "triage", "version": "1.0", "status": status, "capabilities": caps,
	"risk_tier": "medium", "owner": "claims-team",
}

_claims := [{"kind": "memory", "name": "claims"}, {"kind": "tool", "name": "payments"}, {"kind": "tool", "name": "weather"}]

_memory(action, bank, pii) := {
	"agent": _agent("active", _claims), "action": action,
	"resource": {"kind": "memory", "name": bank, "key": "k"},
	"context": {"workflow_id": "wf", "run_id": "r", "pii": pii},
}

test_read_declared_bank_allowed if {
	gateway.decision.allow with input as _memory("memory.read", "claims", [])
}

test_undeclared_bank_denied if {
	d := gateway.decision with input as _memory("memory.read", "customers", [])
	not d.allow
	d.reasons == ["no capability grants this access"]
}

test_pii_allowed_in_classified_bank if {
	d := gateway.decision with input as _memory("memory.write", "claims", ["email"])
	d.allow
	"audit_pii_write" in d.obligations
}

test_pii_refused_in_unclassified_bank if {
	d := gateway.decision with input as _memory("memory.write", "claims", ["payment_card"])
	not d.allow
	d.reasons == ["bank claims is not classified for payment_card"]
}

test_pii_refused_in_unknown_bank if {
	inp := object.union(_memory("memory.write", "scratch", ["email"]), {"agent": _agent("active", [{"kind": "memory", "name": "scratch"}])})
	not gateway.decision.allow with input as inp
}

test_revoked_denied if {
	inp := object.union(_memory("memory.read", "claims", []), {"agent": _agent("revoked", _claims)})
	d := gateway.decision with input as inp
	not d.allow
	"agent is revoked" in d.reasons
}

test_draining_may_read_not_write if {
	read := object.union(_memory("memory.read", "claims", []), {"agent": _agent("draining", _claims)})
	gateway.decision.allow with input as read
	write := object.union(_memory("memory.write", "claims", []), {"agent": _agent("draining", _claims)})
	not gateway.decision.allow with input as write
}

_tool(status, name, tier) := {
	"agent": object.union(_agent(status, _claims), {"risk_tier": tier}), "action": "tool.invoke",
	"resource": {"kind": "tool", "name": name}, "context": {"workflow_id": "wf", "run_id": "r", "pii": []},
}

test_tool_allowed_with_capability if {
	d := gateway.decision with input as _tool("active", "payments", "medium")
	d.allow
	"record_tool_result" in d.obligations
}

test_tool_denied_without_capability if {
	not gateway.decision.allow with input as _tool("active", "shell", "medium")
}

test_canary_no_high_risk_tools if {
	not gateway.decision.allow with input as _tool("canary", "payments", "medium")
	gateway.decision.allow with input as _tool("canary", "weather", "medium")
}

test_low_tier_no_high_risk_tools if {
	d := gateway.decision with input as _tool("active", "payments", "low")
	not d.allow
	d.reasons == ["high-risk tool payments needs a high or medium risk-tier agent"]
}

_profile(owner, action, pii) := {
	"agent": _agent("active", []), "action": action,
	"resource": {"kind": "profile", "name": owner, "key": "k"},
	"context": {"workflow_id": "wf", "run_id": "r", "pii": pii},
}

test_own_profile_only if {
	gateway.decision.allow with input as _profile("triage", "profile.write", [])
	not gateway.decision.allow with input as _profile("other", "profile.read", [])
}

test_no_pii_in_profiles if {
	d := gateway.decision with input as _profile("triage", "profile.write", ["email"])
	not d.allow
	d.reasons == ["profiles may not hold email"]
}

test_empty_input_denied if {
	d := gateway.decision with input as {}
	not d.allow
}

_findings(findings, signals) := object.union(
	_memory("memory.write", "claims", [f.kind | some f in findings]),
	{"context": {"pii": [f.kind | some f in findings], "pii_findings": findings, "pii_signals": signals}},
)

test_pii_in_key_refused_even_where_the_bank_allows_it if {
	d := gateway.decision with input as _findings([{"kind": "email", "location": "key"}], [])
	not d.allow
	d.reasons == ["memory keys may not hold email"]
}

test_pii_in_value_allowed_where_the_bank_allows_it if {
	gateway.decision.allow with input as _findings([{"kind": "email", "location": "value"}], ["format_characters"])
}

test_signals_refused_when_configured if {
	inp := _findings([], ["format_characters"])
	d := gateway.decision with input as inp with data.longboat.config.pii.refuse_signals as ["format_characters"]
	not d.allow
	d.reasons == ["writes needing format_characters normalisation are refused"]
	gateway.decision.allow with input as inp with data.longboat.config.pii.refuse_signals as ["mixed_scripts"]
}

_question(caps) := {
	"agent": _agent("active", caps), "action": "policy.decide",
	"resource": {"kind": "policy", "name": "moderation"},
	"context": {"pii": []},
}

test_policy_question_needs_its_capability if {
	gateway.decision.allow with input as _question([{"kind": "policy", "name": "moderation"}])
	d := gateway.decision with input as _question(_claims)
	not d.allow
	d.reasons == ["no capability grants this access"]
}

_mcp(status, tier, caps, annotations, pii) := {
	"agent": object.union(_agent(status, caps), {"risk_tier": tier}), "action": "tool.invoke",
	"resource": {"kind": "tool", "name": "files.charge", "server": "files", "tool": "charge", "annotations": annotations},
	"context": {"pii": pii, "arguments": {"amount": 3}},
}

test_mcp_tool_granted_by_its_server if {
	gateway.decision.allow with input as _mcp("active", "medium", [{"kind": "tool", "name": "files"}], {}, [])
	gateway.decision.allow with input as _mcp("active", "medium", [{"kind": "tool", "name": "files.charge"}], {}, [])
	not gateway.decision.allow with input as _mcp("active", "medium", [{"kind": "tool", "name": "crm"}], {}, [])
}

test_destructive_mcp_tool_needs_tier_and_no_canary if {
	caps := [{"kind": "tool", "name": "files"}]
	d := gateway.decision with input as _mcp("active", "low", caps, {"destructive": true}, [])
	d.reasons == ["destructive tool files.charge needs a high or medium risk-tier agent"]
	not gateway.decision.allow with input as _mcp("canary", "medium", caps, {"destructive": true}, [])
	gateway.decision.allow with input as _mcp("canary", "medium", caps, {"destructive": false}, [])
}

test_pii_in_tool_arguments_refused_unless_classified if {
	caps := [{"kind": "tool", "name": "files"}]
	d := gateway.decision with input as _mcp("active", "medium", caps, {}, ["email"])
	d.reasons == ["tool files.charge may not receive email"]
	gateway.decision.allow with input as _mcp("active", "medium", caps, {}, ["email"])
		with data.longboat.config.tools as {"files.charge": {"pii": ["email"]}}
}

_listing(status, tier, caps, annotations) := object.union(
	_mcp(status, tier, caps, annotations, []),
	{"action": "tool.list", "context": {}},
)

test_tool_listed_exactly_where_a_call_would_be_allowed if {
	caps := [{"kind": "tool", "name": "files"}]
	gateway.decision.allow with input as _listing("active", "medium", caps, {"destructive": true})
	not gateway.decision.allow with input as _listing("active", "medium", [{"kind": "tool", "name": "crm"}], {})
	d := gateway.decision with input as _listing("active", "low", caps, {"destructive": true})
	d.reasons == ["destructive tool files.charge needs a high or medium risk-tier agent"]
	not gateway.decision.allow with input as _listing("canary", "medium", caps, {"destructive": true})
	not gateway.decision.allow with input as _listing("draining", "medium", caps, {})
	not gateway.decision.allow with input as _listing("revoked", "medium", caps, {})
}

test_listing_carries_no_tool_obligation if {
	d := gateway.decision with input as _listing("active", "medium", [{"kind": "tool", "name": "files"}], {})
	d.obligations == []
}

# -- require_approval: allow, deny or park per tool and per argument value -----------------

_charge(name, arguments) := object.union(_tool("active", name, "medium"), {"context": {
	"workflow_id": "wf", "run_id": "r", "pii": [], "arguments": arguments,
}})

_thresholds := {
	"payments": {"risk": "high", "approval": {"argument": "amount", "above": 500, "timeout_s": 600}},
	"weather": {"approval": {"always": true}},
}

test_call_below_threshold_allowed_without_approval if {
	d := gateway.decision with input as _charge("payments", {"amount": 500})
		with data.longboat.config.tools as _thresholds
	d.allow
	d.approval == null
}

test_call_above_threshold_needs_approval if {
	d := gateway.decision with input as _charge("payments", {"amount": 501})
		with data.longboat.config.tools as _thresholds
	d.allow
	d.approval == {"reasons": ["payments: amount 501 is above 500 and needs an operator's approval"], "timeout_s": 600}
}

test_non_numeric_argument_needs_no_approval if {
	d := gateway.decision with input as _charge("payments", {"amount": "9999"})
		with data.longboat.config.tools as _thresholds
	d.approval == null
}

test_always_rule_parks_every_call_with_default_timeout if {
	d := gateway.decision with input as _charge("weather", {"city": "Oslo"})
		with data.longboat.config.tools as _thresholds
	d.approval == {"reasons": ["weather: every call needs an operator's approval"], "timeout_s": 3600}
}

test_denied_call_is_never_parked if {
	low := object.union(_charge("payments", {"amount": 900}), {"agent": {"risk_tier": "low"}})
	d := gateway.decision with input as low with data.longboat.config.tools as _thresholds
	not d.allow
	d.approval == null
}

test_shipped_data_parks_payments_above_ten_thousand if {
	gateway.decision.approval == null with input as _charge("payments", {"amount": 10000})
	d := gateway.decision with input as _charge("payments", {"amount": 10000.5})
	d.approval.timeout_s == 86400
}

test_memory_access_has_no_approval if {
	gateway.decision.approval == null with input as _memory("memory.read", "claims", [])
}

test_own_approval_rule_parks_with_the_default_timeout if {
	d := gateway.decision with input as _charge("payments", {"amount": 1})
		with gateway.approval_reasons as {"new payee"}
	d.approval == {"reasons": ["new payee"], "timeout_s": 3600}
}
