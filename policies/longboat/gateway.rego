# METADATA
# title: Longboat gateway authorization
# description: |
#   The gateway asks for data.longboat.gateway.decision before every memory or tool access
#   and before every governed policy question.
#   Default deny: an agent reaches only the banks and tools its registry capabilities declare;
#   PII only goes into banks classified for it; canary, draining and revoked agents are restricted.
#   A tool call may be allowed only once a person approves it (approval, from policy data).
package longboat.gateway

default allow := false

# METADATA
# description: |
#   The one entrypoint. {allow, reasons, obligations, approval}; approval is null, or for an
#   allowed tool call {reasons, timeout_s}: park the call until an operator approves it.
# entrypoint: true
decision := {
	"allow": allow,
	"reasons": reasons,
	"obligations": sort(obligations),
	"approval": approval,
}

default approval := null

approval := {"reasons": sort(approval_reasons), "timeout_s": _approval_timeout} if {
	allow
	count(approval_reasons) > 0
}

# The tightest deadline of the data rules that ask for a person; 3600 s for rules of your own.
default _approval_timeout := 3600

_approval_timeout := min(_approval_timeouts) if count(_approval_timeouts) > 0

_approval_timeouts contains object.get(rule, "timeout_s", 3600) if {
	some rule in _approval_rules
	_needs_approval(rule)
}

# data.longboat.config.tools.NAME.approval: {"argument": "amount", "above": 10000,
# "timeout_s": 86400} asks for a person when that numeric argument exceeds the threshold;
# {"always": true} for every call of the tool.
_approval_rules contains rule if {
	input.action == "tool.invoke"
	rule := _tools[input.resource.name].approval
}

_needs_approval(rule) if rule.always == true

_needs_approval(rule) if {
	value := object.get(input.context, ["arguments", rule.argument], null)
	is_number(value)
	value > rule.above
}

approval_reasons contains sprintf("%s: every call needs an operator's approval", [input.resource.name]) if {
	some rule in _approval_rules
	rule.always == true
}

approval_reasons contains sprintf(
	"%s: %s %v is above %v and needs an operator's approval",
	[input.resource.name, rule.argument, input.context.arguments[rule.argument], rule.above],
) if {
	some rule in _approval_rules
	not rule.always == true
	_needs_approval(rule)
}

allow if {
	_granted
	count(deny) == 0
}

reasons := sort(deny) if count(deny) > 0

reasons := ["no capability grants this access"] if {
	count(deny) == 0
	not _granted
}

reasons := [] if allow

_writes := {"memory.write", "memory.delete", "profile.write", "tool.invoke"}

# tool.list: whether the gateway's MCP endpoint shows a tool in tools/list. Listing is granted
# exactly where a call without arguments would be, so an agent sees only what it may call.
_tool_uses := {"tool.invoke", "tool.list"}

default _banks := {}

_banks := data.longboat.config.banks

default _open_models := []

_open_models := data.longboat.models.open_models

default _tools := {}

_tools := data.longboat.config.tools

_capability(kind, name) if {
	some cap in input.agent.capabilities
	cap.kind == kind
	cap.name == name
}

# An agent may use the banks and tools its capabilities name, and its own profile.
_granted if {
	input.resource.kind == "memory"
	_capability("memory", input.resource.name)
}

_granted if {
	input.resource.kind == "tool"
	_capability("tool", input.resource.name)
}

# An MCP tool (server.tool) is also granted by the capability naming its server.
_granted if {
	input.resource.kind == "tool"
	_capability("tool", input.resource.server)
}

# A governed policy question (POST /v1/decisions/NAME) needs capability policy:NAME.
_granted if {
	input.resource.kind == "policy"
	_capability("policy", input.resource.name)
}

# A model call (POST /v1/models/complete) needs capability model:NAME, unless the model is
# open to every agent (data.longboat.models.open_models, e.g. the offline local model).
_granted if {
	input.resource.kind == "model"
	_capability("model", input.resource.name)
}

_granted if {
	input.resource.kind == "model"
	input.resource.name in _open_models
}

_granted if {
	input.resource.kind == "profile"
	input.resource.name == input.agent.id
}

deny contains "agent is revoked" if input.agent.status == "revoked"

deny contains "draining agents may only read" if {
	input.agent.status == "draining"
	input.action in _writes
}

deny contains "draining agents may only read" if {
	input.agent.status == "draining"
	input.action == "tool.list"
}

deny contains sprintf("canary agents may not use high-risk tool %s", [input.resource.name]) if {
	input.agent.status == "canary"
	input.resource.kind == "tool"
	object.get(_tools, [input.resource.name, "risk"], "low") == "high"
}

deny contains sprintf("bank %s is not classified for %s", [input.resource.name, kind]) if {
	input.action == "memory.write"
	some kind in input.context.pii
	not kind in object.get(_banks, [input.resource.name, "pii"], [])
}

deny contains sprintf("profiles may not hold %s", [kind]) if {
	input.action == "profile.write"
	some kind in input.context.pii
}

deny contains sprintf("high-risk tool %s needs a high or medium risk-tier agent", [input.resource.name]) if {
	input.resource.kind == "tool"
	object.get(_tools, [input.resource.name, "risk"], "low") == "high"
	input.agent.risk_tier == "low"
}

# MCP tools: annotations come from the approved definition (an operator reviewed them).
deny contains sprintf("destructive tool %s needs a high or medium risk-tier agent", [input.resource.name]) if {
	input.action in _tool_uses
	input.resource.annotations.destructive == true
	input.agent.risk_tier == "low"
}

deny contains sprintf("canary agents may not use destructive tool %s", [input.resource.name]) if {
	input.action in _tool_uses
	input.resource.annotations.destructive == true
	input.agent.status == "canary"
}

# Personal data in a tool's arguments goes only to tools classified for it
# (data.longboat.config.tools.NAME.pii), like a bank.
deny contains sprintf("tool %s may not receive %s", [input.resource.name, kind]) if {
	input.action == "tool.invoke"
	some kind in input.context.pii
	not kind in object.get(_tools, [input.resource.name, "pii"], [])
}

# Keys travel where values do not: the decision log, URLs and the compacted topic's keys.
# Personal data in a key is refused whatever the bank allows.
deny contains sprintf("memory keys may not hold %s", [finding.kind]) if {
	input.action in {"memory.write", "profile.write"}
	some finding in object.get(input.context, "pii_findings", [])
	finding.location == "key"
}

# Operators may refuse writes that needed de-obfuscation (data.longboat.config.pii.refuse_signals,
# e.g. ["format_characters", "mixed_scripts"]): honest data rarely hides behind them.
deny contains sprintf("writes needing %s normalisation are refused", [signal]) if {
	input.action in _writes
	some signal in object.get(input.context, "pii_signals", [])
	signal in object.get(data.longboat.config, ["pii", "refuse_signals"], [])
}

obligations contains "audit_pii_write" if {
	allow
	input.action == "memory.write"
	count(input.context.pii) > 0
}

obligations contains "record_tool_result" if {
	allow
	input.action == "tool.invoke"
}
