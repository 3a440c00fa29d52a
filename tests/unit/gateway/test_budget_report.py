"""Spend against budgets as the CLI and Mission Control report it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from longboat.gateway import ModelsPolicyData, ModelUsage, budget_report
from longboat.llm import LLMResponse

NOW = datetime(2026, 1, 1, 12, 30, tzinfo=UTC)


def _usage(
    agent: str, tokens: int, *, at: datetime = NOW, workflow: str | None = None
) -> ModelUsage:
    return ModelUsage(
        agent=agent,
        version="1",
        owner="team",
        workflow_id=workflow,
        idempotency_key=f"k{tokens}{at.timestamp()}",
        model="m",
        input_tokens=tokens,
        output_tokens=0,
        cost=0.0,
        time=at,
        decision_id="d",
        answer=LLMResponse(text="ok", model="m"),
    )


def _data(**extra: object) -> ModelsPolicyData:
    budgets = {"hourly": {"window": "hour", "max_tokens": 100}}
    return ModelsPolicyData.model_validate({"budgets": budgets, **extra})


def test_spend_at_or_over_the_warn_threshold_is_approaching_and_at_the_limit_exceeded() -> None:
    """80 of 100 tokens is approaching (default 0.8), 100 is exceeded, 79 is neither."""
    usage = [_usage("a", 80), _usage("b", 100), _usage("c", 79)]
    rows = {r.agent: r for r in budget_report(usage, _data(), NOW)}
    assert (rows["a"].approaching, rows["a"].exceeded, rows["a"].used_tokens) == (True, False, 0.8)
    assert (rows["b"].approaching, rows["b"].exceeded) == (False, True)
    assert (rows["c"].approaching, rows["c"].exceeded) == (False, False)
    assert rows["a"].used_cost is None  # the budget sets no cost limit


def test_the_data_sets_the_threshold_and_old_windows_do_not_count() -> None:
    """warn_at 0.5 flags 60 of 100; usage from the previous hour is not in this window."""
    usage = [_usage("a", 60), _usage("a", 90, at=NOW - timedelta(hours=1))]
    (row,) = budget_report(usage, _data(warn_at=0.5), NOW)
    assert (row.tokens, row.approaching) == (60, True)
