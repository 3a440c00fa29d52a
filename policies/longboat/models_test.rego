package longboat.models_test

import data.longboat.models

_agent(caps) := {
	"id": "claims",
	"version": "1.0",
	"status": "active",
	"capabilities": caps,
	"risk_tier": "medium",
	"owner": "team-a",
}

_input(model, caps, budgets) := {
	"agent": _agent(caps),
	"action": "model.invoke",
	"resource": {"kind": "model", "name": model},
	"context": {"budgets": budgets},
}

# The bundle's own open_models and prices (models/data.json); budgets fixed here.
_budgets := {
	"hourly": {"window": "hour", "max_tokens": 1000},
	"daily": {"window": "day", "max_cost": 1.0},
	"off": {"window": "day", "max_tokens": 0},
}

test_open_model_allowed_without_capability if {
	d := models.decision with input as _input("longboat-local", [], []) with data.longboat.models.budgets as _budgets
	d.allow
}

test_other_model_needs_capability if {
	d := models.decision with input as _input("gpt-4o-mini", [], []) with data.longboat.models.budgets as _budgets
	not d.allow
	d.reasons == ["no capability grants this access"]
}

test_capability_grants_model_and_price_is_reported if {
	caps := [{"kind": "model", "name": "gpt-4o-mini"}]
	d := models.decision with input as _input("gpt-4o-mini", caps, []) with data.longboat.models.budgets as _budgets
	d.allow
	d.price.output_per_1k == 0.0006
}

test_spent_budget_refuses_with_its_name if {
	spent := [{"budget": "hourly", "tokens": 1000, "cost": 0}]
	d := models.decision with input as _input("longboat-local", [], spent) with data.longboat.models.budgets as _budgets
	not d.allow
	d.exceeded == ["hourly"]
	d.reasons == ["budget hourly exceeded"]
}

test_cost_budget_and_warning if {
	spent := [{"budget": "hourly", "tokens": 850, "cost": 0}, {"budget": "daily", "tokens": 0, "cost": 0.5}]
	d := models.decision with input as _input("longboat-local", [], spent) with data.longboat.models.budgets as _budgets
	d.allow
	d.approaching == ["hourly"]
}

test_zero_limit_switches_off if {
	spent := [{"budget": "off", "tokens": 0, "cost": 0}]
	d := models.decision with input as _input("longboat-local", [], spent) with data.longboat.models.budgets as _budgets
	d.exceeded == ["off"]
}

test_revoked_agent_refused_for_the_gateway_reason if {
	inp := object.union(_input("longboat-local", [], []), {"agent": object.union(_agent([]), {"status": "revoked"})})
	d := models.decision with input as inp with data.longboat.models.budgets as _budgets
	not d.allow
	d.reasons == ["agent is revoked"]
}
