"""Shadow reports: decisions compared one by one (pure), and the promotion gate's messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from longboat import TopicNames
from longboat.agents import (
    Agent,
    CalledStep,
    RunComparison,
    ShadowDecision,
    shadow_group,
    shadow_output_topic,
    shadow_topic,
)
from longboat.agents._replay import Emitted
from longboat.agents._shadow_report import compare
from longboat.cli._shadow import _window, require_clean_shadow
from longboat.errors import UsageError


def _decision(**changes: object) -> ShadowDecision:
    base: dict[str, object] = {
        "shadow_id": "s1",
        "agent": "payer",
        "candidate_version": "2.0",
        "run_id": "r1",
        "topic": "in",
        "partition": 0,
        "offset": 3,
        "input_id": "e1",
        "production_outcome": "completed",
        "production_steps": (
            CalledStep(name="longboat.tool", args=["charge", {"amount": 5}]),
            CalledStep(name="longboat.decide", args=["limits", {"amount": 5}]),
        ),
        "outcome": "completed",
        "steps": (
            CalledStep(name="longboat.tool", args=["charge", {"amount": 7}]),
            CalledStep(name="longboat.tool", args=["refund", {"amount": 1}]),
        ),
        "outputs": (Emitted(topic="out", type="t", data=1),),
    }
    return ShadowDecision.model_validate({**base, **changes})


def _verdicts(run: RunComparison) -> dict[str, str]:
    return {d.decision: d.verdict for d in run.decisions}


def test_each_decision_is_same_changed_new_or_missing() -> None:
    """Tool arguments changed, a new tool, a policy question gone, an output kept."""
    run = compare(_decision(), [Emitted(topic="out", type="t", data=1)])
    assert _verdicts(run) == {
        "outcome": "same",
        "tool:charge#1": "changed",
        "policy:limits#1": "missing",
        "output:out#1": "same",
        "tool:refund#1": "new",
    }
    assert not run.clean
    assert run.input == "in/0@3"


def test_a_stopped_candidate_is_a_changed_outcome() -> None:
    """A candidate stopped by a refused step never counts as the same outcome."""
    run = compare(_decision(outcome="stopped", steps=(), outputs=()), [])
    assert _verdicts(run)["outcome"] == "changed"


def test_the_gate_refuses_a_bad_file_another_agent_or_version(tmp_path: Path) -> None:
    """The promotion gate says what is wrong with the report file and what to do."""
    junk = tmp_path / "r.json"
    junk.write_text("{}")
    with pytest.raises(UsageError, match="not a shadow report"):
        require_clean_shadow(junk, agent="payer", version="2.0")
    with pytest.raises(UsageError, match="not a shadow report"):
        require_clean_shadow(tmp_path / "missing.json", agent="payer", version="2.0")


def test_window_bounds_are_offsets_or_times() -> None:
    """--from/--to take an input offset or an ISO time; anything else is a usage error."""
    window = _window("3", "2025-06-01T00:00+00:00")
    assert (window.from_offset, window.to_offset, window.until is not None) == (3, None, True)
    with pytest.raises(UsageError, match="--from 'yesterday'"):
        _window("yesterday", None)


def test_window_times_need_a_zone() -> None:
    """A time without a zone is refused (the shadow seeks by the broker's UTC time index)."""
    with pytest.raises(UsageError, match=r"--to '2025-06-01T00:00'.*\+00:00"):
        _window(None, "2025-06-01T00:00")
    window = _window("2025-06-01T00:00+02:00", None)
    assert window.since_ms == 1748728800000


def test_shadow_names_are_pinned() -> None:
    """The shadow's group and topics: never the production group, one output topic per agent."""
    names = TopicNames("lb.")
    assert shadow_group(names, "payer", "2.0") == "lb.shadow.payer.2.0"
    assert shadow_output_topic(names, "payer") == "lb.shadow.payer.outputs"
    assert shadow_topic(names, "payer") == "lb.shadow.payer.decisions"
    assert Agent("payer", topics=["in"]).group_id(names) != shadow_group(names, "payer", "2.0")
