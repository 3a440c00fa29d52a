"""Names and layouts of Longboat's system topics (ARCHITECTURE.md section 2)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from longboat.errors import ConfigError

__all__ = ["COORDINATOR_AGENTS", "TopicNames", "TopicSpec", "validate_agent_name"]

_DAY_MS = 24 * 60 * 60 * 1000
# The coordinator runs as two agents of its own (``coordinator/_engine.py``): the router and
# the core. Their journals and dead-letter topics are system topics.
COORDINATOR_AGENTS = ("coordinator-router", "coordinator")
_AGENT_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")

_DELETE: Mapping[str, str] = {"cleanup.policy": "delete"}
_COMPACT: Mapping[str, str] = {"cleanup.policy": "compact"}
_LONG_RETENTION: Mapping[str, str] = {
    "cleanup.policy": "delete",
    "retention.ms": str(365 * _DAY_MS),
}


def validate_agent_name(name: str) -> str:
    """Return ``name`` if it can be part of a topic name, else raise :class:`ConfigError`."""
    if not _AGENT_NAME.match(name):
        raise ConfigError(
            f"agent name {name!r} is invalid: use 1-63 lower-case letters, digits, '-' or '_', "
            "starting with a letter"
        )
    return name


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic to create: name, partition count and topic-level configs."""

    name: str
    partitions: int
    config: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TopicNames:
    """Every system topic name under one prefix (default ``lb.``)."""

    prefix: str = "lb."

    @property
    def results(self) -> str:
        """Specialists' results, read by the coordinator."""
        return f"{self.prefix}results"

    @property
    def signals(self) -> str:
        """Approvals, rejections and cancels for running workflows."""
        return f"{self.prefix}signals"

    @property
    def workflows_history(self) -> str:
        """The event-sourced history of every workflow."""
        return f"{self.prefix}workflows.history"

    @property
    def coordinator_events(self) -> str:
        """The coordinator's own input: every workflow event, keyed by workflow id."""
        return f"{self.prefix}coordinator.events"

    @property
    def workflows_state(self) -> str:
        """Each workflow's current state (compacted; partition = its events' partition)."""
        return f"{self.prefix}workflows.state"

    @property
    def registry(self) -> str:
        """Agent identities, versions and status (compacted)."""
        return f"{self.prefix}registry"

    @property
    def memory(self) -> str:
        """Agent memory banks and profiles (compacted)."""
        return f"{self.prefix}memory"

    @property
    def memory_audit(self) -> str:
        """Provenance of every memory write."""
        return f"{self.prefix}memory.audit"

    @property
    def tools_ledger(self) -> str:
        """Tool results by idempotency key (compacted)."""
        return f"{self.prefix}tools.ledger"

    @property
    def models_usage(self) -> str:
        """One record per LLM call through the gateway: tokens, cost, answer (compacted)."""
        return f"{self.prefix}models.usage"

    @property
    def tools_catalog(self) -> str:
        """Discovered MCP tool definitions and their approvals, by ``server.tool@digest``."""
        return f"{self.prefix}tools.catalog"

    @property
    def tools_approvals(self) -> str:
        """Tool calls a policy parked for an operator, and their resolutions (compacted)."""
        return f"{self.prefix}tools.approvals"

    @property
    def decisions(self) -> str:
        """Every policy decision the gateway made."""
        return f"{self.prefix}decisions"

    @property
    def policies(self) -> str:
        """Published policy bundles (compacted)."""
        return f"{self.prefix}policies"

    @property
    def progress(self) -> str:
        """Progress events for Mission Control."""
        return f"{self.prefix}progress"

    def tasks(self, agent: str) -> str:
        """Tasks the coordinator hands to specialist ``agent``."""
        return f"{self.prefix}tasks.{validate_agent_name(agent)}"

    def journal(self, agent: str) -> str:
        """The step journal of ``agent``."""
        return f"{self.prefix}journal.{validate_agent_name(agent)}"

    def dlq(self, agent: str) -> str:
        """Records ``agent`` could not process."""
        return f"{self.prefix}dlq.{validate_agent_name(agent)}"

    def system_topics(self, *, partitions: int | None = None) -> list[TopicSpec]:
        """The topics every deployment needs, with their default layouts.

        Args:
            partitions: Overrides every default partition count (e.g. 1 for a laptop).
        """

        def spec(name: str, default: int, config: Mapping[str, str]) -> TopicSpec:
            return TopicSpec(name, partitions or default, dict(config))

        return [
            spec(self.results, 12, _DELETE),
            spec(self.signals, 6, _DELETE),
            spec(self.workflows_history, 12, _LONG_RETENTION),
            # Same partition count: a workflow's state lives in its events' partition.
            spec(self.coordinator_events, 12, _DELETE),
            spec(self.workflows_state, 12, _COMPACT),
            # Registry and policies are small and read whole by everyone: one partition keeps
            # a single total order of changes.
            TopicSpec(self.registry, 1, dict(_COMPACT)),
            TopicSpec(self.policies, 1, dict(_COMPACT)),
            spec(self.memory, 12, _COMPACT),
            spec(self.models_usage, 6, _COMPACT),
            spec(self.memory_audit, 12, _LONG_RETENTION),
            spec(self.tools_ledger, 12, _COMPACT),
            # Small and read whole by every gateway, like the registry: one total order.
            TopicSpec(self.tools_catalog, 1, dict(_COMPACT)),
            # Read whole by every gateway and the coordinator's inbox; few records.
            TopicSpec(self.tools_approvals, 1, dict(_COMPACT)),
            spec(
                self.decisions, 12, {"cleanup.policy": "delete", "retention.ms": str(30 * _DAY_MS)}
            ),
            spec(self.progress, 6, {"cleanup.policy": "delete", "retention.ms": str(7 * _DAY_MS)}),
        ]

    def coordinator_topics(self, *, partitions: int | None = None) -> list[TopicSpec]:
        """The journal and dead-letter topics of the coordinator's router and core agents.

        They read no task topic (the coordinator dispatches tasks, it receives none).
        """
        return [
            spec
            for agent in COORDINATOR_AGENTS
            for spec in self.agent_topics(agent, partitions=partitions)
            if spec.name != self.tasks(agent)
        ]

    def agent_topics(self, agent: str, *, partitions: int | None = None) -> list[TopicSpec]:
        """The per-agent topics: tasks, journal and dead letters."""
        n = partitions or 12
        return [
            TopicSpec(self.tasks(agent), n, dict(_DELETE)),
            # Journal records are superseded by later markers for the same key; deleting old
            # segments bounds it even when keys never repeat.
            TopicSpec(
                self.journal(agent),
                n,
                {"cleanup.policy": "compact,delete", "retention.ms": str(7 * _DAY_MS)},
            ),
            TopicSpec(
                self.dlq(agent),
                partitions or 3,
                {"cleanup.policy": "delete", "retention.ms": str(30 * _DAY_MS)},
            ),
        ]
