"""Agent options, retry policy, fault plans and the loader refuse bad input with the fix."""

from __future__ import annotations

import random

import pytest

from longboat.agents import Agent, RetryPolicy
from longboat.agents._faults import FaultPlan
from longboat.agents._loader import load_agent
from longboat.errors import ConfigError


def test_backoff_grows_exponentially_up_to_the_cap_with_bounded_jitter() -> None:
    """Delays double from the initial value, stop at the cap, and jitter stays within its band."""
    policy = RetryPolicy(initial_backoff_s=0.1, max_backoff_s=1.0, multiplier=2, jitter=0.0)
    assert [policy.backoff_s(n) for n in (1, 2, 3, 4, 5, 6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    jittery = RetryPolicy(initial_backoff_s=1.0, max_backoff_s=1.0, jitter=0.5)
    rng = random.Random(7)
    samples = [jittery.backoff_s(3, rng) for _ in range(200)]
    assert all(0.5 <= s <= 1.5 for s in samples)
    assert max(samples) - min(samples) > 0.5  # it does spread


def test_retry_cap_below_initial_is_refused() -> None:
    """A cap lower than the first delay is a mistake, named as such."""
    with pytest.raises(ValueError, match="max_backoff_s"):
        RetryPolicy(initial_backoff_s=5, max_backoff_s=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"durability": "eventually"}, "durability"),
        ({"max_in_flight": 0}, "max_in_flight"),
        ({"topics": [], "tasks": False}, "input topics"),
    ],
)
def test_bad_agent_options_are_refused(kwargs: dict[str, object], message: str) -> None:
    """Invalid agent options raise ConfigError naming the option."""
    with pytest.raises(ConfigError, match=message):
        Agent("triage", **kwargs)  # type: ignore[arg-type]


def test_agent_without_handler_says_how_to_set_one() -> None:
    """Running an agent with no handler explains the decorator."""
    with pytest.raises(ConfigError, match=r"@agent\.handler"):
        Agent("triage").handle  # noqa: B018


def test_fault_plan_parses_and_refuses_unknown_points() -> None:
    """Fault points are checked when parsed; an unknown one lists the valid points."""
    FaultPlan("checkpoint.before_commit@3, step.after_run")
    with pytest.raises(ConfigError, match=r"step\.after_run"):
        FaultPlan("nowhere")
    with pytest.raises(ConfigError, match=">= 1"):
        FaultPlan("step.after_run@0")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_colon", "MODULE:ATTR"),
        ("no.such.module:agent", "cannot import"),
        ("examples.claims.triage:nothing", "no attribute"),
        ("examples.claims.triage:handle", "not a longboat.agents.Agent"),
    ],
)
def test_loader_errors_name_the_problem(spec: str, message: str) -> None:
    """`longboat run agent` explains a bad MODULE:ATTR."""
    with pytest.raises(ConfigError, match=message):
        load_agent(spec)


def test_loader_finds_the_example_agent() -> None:
    """The shipped example loads."""
    assert load_agent("examples.claims.triage:agent").name == "triage"
