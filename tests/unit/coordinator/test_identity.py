"""The coordinator's id contract: task ids and timer tokens pinned to concrete values."""

from __future__ import annotations

from longboat.coordinator._identity import (
    approval_timeout_token,
    compensation_step_id,
    compensation_task_id,
    is_compensation_task,
    retry_token,
    task_id,
    timer_token,
)


def test_task_ids_are_pinned() -> None:
    """Task ids come back in results after an upgrade: their format never changes."""
    assert task_id("claim-1001", "triage", 1) == "claim-1001:triage:1"
    assert task_id("wf:with:colons", "pay", 3) == "wf:with:colons:pay:3"
    assert compensation_task_id("claim-1001", "pay") == "claim-1001:pay:compensate"
    assert compensation_step_id("pay") == "pay.compensate"


def test_timer_tokens_are_pinned() -> None:
    """Timer tokens are stored in workflow states and come back in TimerFired events."""
    assert timer_token("cool-off") == "cool-off:timer"
    assert approval_timeout_token("review") == "review:approval"
    assert retry_token("triage", 2) == "triage:retry:2"


def test_compensation_ids_are_recognised_and_attempts_are_not() -> None:
    """Only a compensation task's id reads as one; a step named 'compensate' does not."""
    assert is_compensation_task(compensation_task_id("w", "pay"))
    assert not is_compensation_task(task_id("w", "pay", 1))
    assert not is_compensation_task(task_id("w", "compensate", 1))
