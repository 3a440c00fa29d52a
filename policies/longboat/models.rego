# METADATA
# title: Longboat model calls and budgets
# description: |
#   The gateway asks data.longboat.models.decision before every model call
#   (POST /v1/models/complete). Access is the gateway policy's (capability model:NAME or an
#   open model); budgets are policy data (data.longboat.models.budgets): the gateway reports
#   what each budget's current window has spent (input.context.budgets) and this policy
#   refuses a call once a budget is spent. Prices (per 1,000 tokens) come from
#   data.longboat.models.prices; the gateway accounts the cost with them.
package longboat.models

import data.longboat.gateway

default allow := false

# METADATA
# description: |
#   The one entrypoint: {allow, reasons, exceeded, approaching, price}.
#   exceeded names the budgets that refuse the call (HTTP 429, not retryable until the window
#   turns); approaching names the budgets past warn_at of their limit.
# entrypoint: true
decision := {
	"allow": allow,
	"reasons": reasons,
	"exceeded": sort(exceeded),
	"approaching": sort(approaching),
	"price": price,
}

allow if {
	gateway.allow
	count(exceeded) == 0
}

reasons := gateway.reasons if not gateway.allow

reasons := sort([sprintf("budget %s exceeded", [name]) | some name in exceeded]) if {
	gateway.allow
	count(exceeded) > 0
}

reasons := [] if allow

default _budgets := {}

_budgets := data.longboat.models.budgets

default price := {"input_per_1k": 0, "output_per_1k": 0}

price := data.longboat.models.prices[input.resource.name]

default _warn_at := 0.8

_warn_at := data.longboat.models.warn_at

# Spent fraction of each limit a budget sets (tokens, cost) in its current window.
_fractions[name] contains used / limit if {
	some spent in input.context.budgets
	name := spent.budget
	limit := _budgets[name].max_tokens
	limit > 0
	used := spent.tokens
}

_fractions[name] contains used / limit if {
	some spent in input.context.budgets
	name := spent.budget
	limit := _budgets[name].max_cost
	limit > 0
	used := spent.cost
}

# A zero limit refuses everything: a budget can switch a model off.
_fractions[name] contains 1 if {
	some spent in input.context.budgets
	name := spent.budget
	some field in ["max_tokens", "max_cost"]
	_budgets[name][field] == 0
}

exceeded contains name if {
	some name, fractions in _fractions
	some fraction in fractions
	fraction >= 1
}

approaching contains name if {
	some name, fractions in _fractions
	not name in exceeded
	some fraction in fractions
	fraction >= _warn_at
}
