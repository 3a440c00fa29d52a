"""Spend against budgets, as operators read it (``longboat budgets``, Mission Control).

The gateway enforces budgets per call (``models.rego`` with the facts of :class:`UsageLedger`);
this module answers the operator's question instead: for every agent with recorded usage and
every budget in the policy data, how much of the current window is spent, and whether that is
approaching (``warn_at``, default 0.8 of a limit, the same threshold the policy warns at) or
past the limit. One function, so that the CLI and the console can never judge differently.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from longboat.gateway._usage import ModelsPolicyData, ModelUsage, window_bounds

__all__ = ["DEFAULT_WARN_AT", "BudgetStatus", "budget_report", "warn_at_of"]

DEFAULT_WARN_AT = 0.8
"""The fraction of a limit at which spend is reported as approaching, unless data says."""

_WINDOWS = {"hour": 3600, "day": 86_400}


class BudgetStatus(BaseModel):
    """One agent's spend in one budget's current window (or its most expensive run)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agent: str
    budget: str
    window: str
    tokens: int
    cost: float
    max_tokens: int | None
    max_cost: float | None
    used_tokens: float | None = None
    used_cost: float | None = None
    exceeded: bool
    approaching: bool


def warn_at_of(data: ModelsPolicyData) -> float:
    """The policy data's ``warn_at`` (a fraction of a limit), or :data:`DEFAULT_WARN_AT`."""
    value = (data.model_extra or {}).get("warn_at", DEFAULT_WARN_AT)
    return float(value) if isinstance(value, int | float) else DEFAULT_WARN_AT


def budget_report(
    usage: Iterable[ModelUsage],
    data: ModelsPolicyData,
    now: datetime,
    *,
    agent: str | None = None,
) -> list[BudgetStatus]:
    """Every (agent, budget) pair's spend at ``now``, by agent then budget name.

    Workflow-run budgets report the agent's most expensive run.
    """
    by_agent: dict[str, list[ModelUsage]] = defaultdict(list)
    for entry in usage:
        if agent is None or entry.agent == agent:
            by_agent[entry.agent].append(entry)
    warn_at = warn_at_of(data)
    rows: list[BudgetStatus] = []
    for name_of_agent, entries in sorted(by_agent.items()):
        for name, spec in sorted(data.budgets.items()):
            if spec.window == "workflow":
                runs: dict[str, list[ModelUsage]] = defaultdict(list)
                for entry in entries:
                    runs[entry.workflow_id or "-"].append(entry)
                label, spent = max(runs.items(), key=lambda r: _tokens(r[1]))
                window = f"run {label[:12]}"
            else:
                size = _WINDOWS[spec.window] if isinstance(spec.window, str) else spec.window
                start, end = window_bounds(now, size)
                spent = [e for e in entries if start <= e.time < end]
                window = f"until {end:%Y-%m-%d %H:%M:%S} UTC"
            tokens, cost = _tokens(spent), round(sum(e.cost for e in spent), 6)
            used_tokens = _used(tokens, spec.max_tokens)
            used_cost = _used(cost, spec.max_cost)
            fractions = [f for f in (used_tokens, used_cost) if f is not None]
            exceeded = any(f >= 1 for f in fractions)
            rows.append(
                BudgetStatus(
                    agent=name_of_agent,
                    budget=name,
                    window=window,
                    tokens=tokens,
                    cost=cost,
                    max_tokens=spec.max_tokens,
                    max_cost=spec.max_cost,
                    used_tokens=used_tokens,
                    used_cost=used_cost,
                    exceeded=exceeded,
                    approaching=not exceeded and any(f >= warn_at for f in fractions),
                )
            )
    return rows


def _tokens(entries: list[ModelUsage]) -> int:
    return sum(e.input_tokens + e.output_tokens for e in entries)


def _used(spent: float, limit: float | None) -> float | None:
    """The fraction of ``limit`` spent (a zero limit is all used); None without a limit."""
    if limit is None:
        return None
    return 1.0 if limit == 0 else spent / limit
