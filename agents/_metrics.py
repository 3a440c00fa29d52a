"""Prometheus metrics of an agent process (the runner serves its registry on ``/metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from longboat.registry import InstanceCounters

__all__ = ["AgentMetrics"]

_STEP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class AgentMetrics:
    """Counters and histograms of one agent process, in a registry of its own."""

    def __init__(self) -> None:
        """Create the metrics (a private registry: tests can run several agents in one process)."""
        self.registry = CollectorRegistry()
        # Plain totals beside the Prometheus series: heartbeats carry them to the registry, so
        # Mission Control sees every instance without scraping each pod's /metrics.
        self._processed = 0
        self._errors = 0
        self._dead_lettered = 0
        self._records = Counter(
            "longboat_agent_records_processed",
            "Records processed, by outcome",
            ["agent", "outcome"],
            registry=self.registry,
        )
        self._steps = Histogram(
            "longboat_agent_step_duration_seconds",
            "Step execution time (replays excluded)",
            ["agent", "step", "outcome"],
            buckets=_STEP_BUCKETS,
            registry=self.registry,
        )
        self._retries = Counter(
            "longboat_agent_step_retries",
            "Step attempts that failed and were retried",
            ["agent", "step"],
            registry=self.registry,
        )
        self._dead = Counter(
            "longboat_agent_dead_lettered",
            "Records sent to the dead-letter topic",
            ["agent", "reason"],
            registry=self.registry,
        )
        self._lag = Gauge(
            "longboat_agent_consumer_lag",
            "Records between the committed offset and the partition end",
            ["agent", "topic", "partition"],
            registry=self.registry,
        )
        self._commits = Counter(
            "longboat_agent_checkpoints",
            "Checkpoint transactions, by outcome",
            ["agent", "outcome"],
            registry=self.registry,
        )

    def record_processed(self, agent: str, outcome: str) -> None:
        """Count one finished record (``completed``, ``dead_lettered``, ``skipped``)."""
        self._records.labels(agent, outcome).inc()
        if outcome != "skipped":  # skipped: a previous owner processed it
            self._processed += 1

    def step_finished(self, agent: str, step: str, seconds: float, outcome: str) -> None:
        """Observe one step attempt."""
        self._steps.labels(agent, step, outcome).observe(seconds)
        if outcome == "error":
            self._errors += 1

    def step_retried(self, agent: str, step: str) -> None:
        """Count one retry."""
        self._retries.labels(agent, step).inc()

    def dead_lettered(self, agent: str, reason: str) -> None:
        """Count one dead-lettered record (``undecodable``, ``handler_failed``)."""
        self._dead.labels(agent, reason).inc()
        self._dead_lettered += 1

    def totals(self) -> InstanceCounters:
        """What this process has done since it started (what its heartbeats report)."""
        return InstanceCounters(
            processed=self._processed, errors=self._errors, dead_lettered=self._dead_lettered
        )

    def lag(self, agent: str, topic: str, partition: int, value: int) -> None:
        """Set one partition's lag."""
        self._lag.labels(agent, topic, str(partition)).set(value)

    def checkpoint(self, agent: str, outcome: str) -> None:
        """Count one checkpoint (``committed``, ``aborted``, ``fenced``)."""
        self._commits.labels(agent, outcome).inc()
