"""System topic names and layouts (ARCHITECTURE.md section 2)."""

from __future__ import annotations

import pytest

from longboat import TopicNames, validate_agent_name
from longboat.errors import ConfigError

COMPACTED = {
    "registry",
    "memory",
    "tools.ledger",
    "tools.catalog",
    "tools.approvals",
    "models.usage",
    "policies",
    "workflows.state",
}


def test_every_system_topic_of_the_architecture_exists() -> None:
    """Every shared system topic is named under the prefix."""
    names = {spec.name for spec in TopicNames("x.").system_topics()}
    expected = {
        "results",
        "signals",
        "workflows.history",
        "registry",
        "memory",
        "memory.audit",
        "models.usage",
        "tools.ledger",
        "tools.catalog",
        "tools.approvals",
        "decisions",
        "policies",
        "progress",
        "coordinator.events",
        "workflows.state",
    }
    assert names == {f"x.{n}" for n in expected}


def test_cleanup_policies_follow_the_architecture() -> None:
    """Compacted topics are compacted; the rest delete; history and audit keep a year."""
    specs = {s.name.removeprefix("lb."): s for s in TopicNames().system_topics()}
    for name, spec in specs.items():
        expected = "compact" if name in COMPACTED else "delete"
        assert spec.config["cleanup.policy"] == expected, name
    assert int(specs["workflows.history"].config["retention.ms"]) >= 365 * 24 * 3600 * 1000
    assert int(specs["memory.audit"].config["retention.ms"]) >= 365 * 24 * 3600 * 1000


def test_registry_and_policies_have_one_partition() -> None:
    """Single-partition topics keep one total order of registry and policy changes."""
    specs = {s.name: s for s in TopicNames().system_topics(partitions=8)}
    assert specs["lb.registry"].partitions == 1
    assert specs["lb.policies"].partitions == 1
    assert specs["lb.tools.catalog"].partitions == 1
    assert specs["lb.tools.approvals"].partitions == 1
    assert specs["lb.results"].partitions == 8


def test_agent_topics() -> None:
    """Each agent has tasks, a compact+delete journal, and a dead-letter topic."""
    specs = {s.name: s for s in TopicNames().agent_topics("claims-triage", partitions=2)}
    assert set(specs) == {
        "lb.tasks.claims-triage",
        "lb.journal.claims-triage",
        "lb.dlq.claims-triage",
    }
    assert specs["lb.journal.claims-triage"].config["cleanup.policy"] == "compact,delete"


@pytest.mark.parametrize(
    "name", ["", "Upper", "1starts-with-digit", "has space", "a" * 64, "dots.no"]
)
def test_invalid_agent_names_are_refused(name: str) -> None:
    """Agent names that cannot be part of a topic name are refused with the rule."""
    with pytest.raises(ConfigError, match="lower-case"):
        validate_agent_name(name)
    with pytest.raises(ConfigError):
        TopicNames().tasks(name)
