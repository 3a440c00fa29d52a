"""What the fleet chaos run reads back after the faults: the topics (read_committed) and the
payout ledger file, gathered into one :class:`Evidence` that the invariants are checked on."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from examples.claims.payments import payouts
from longboat import EnvelopeSerde, KafkaSettings, TopicNames
from longboat.coordinator import history_entry_of
from longboat.gateway import (
    DECISION_RECORDS,
    LEDGER_ENTRIES,
    MEMORY_AUDITS,
    MEMORY_ITEMS,
    DecisionRecord,
)
from longboat.kafka import read_decoded, read_to_end

__all__ = ["MODERATED", "POSTED", "TASK_AGENTS", "Evidence", "HistoryLine", "gather"]

POSTED, MODERATED = "content.posted", "content.moderated"  # the moderator's input and output
# The agents the claim workflow hands tasks to (the notifier only for a compensation).
TASK_AGENTS = ("triage", "fraud", "coverage", "payments", "notifier")


@dataclass(frozen=True)
class HistoryLine:
    """One ``lb.workflows.history`` entry: its type, data and when the coordinator wrote it."""

    type: str
    data: dict[str, object]
    at: float  # epoch seconds (the record's timestamp)


@dataclass
class Evidence:
    """Everything the invariants look at."""

    history: dict[str, list[HistoryLine]] = field(default_factory=lambda: defaultdict(list))
    task_ids: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    results: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    inputs: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # records per agent
    decisions: list[DecisionRecord] = field(default_factory=list)
    ledger: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    memory: set[tuple[str, str, int]] = field(default_factory=set)
    audits: set[tuple[str, str, int]] = field(default_factory=set)
    payouts: list[dict[str, object]] = field(default_factory=list)

    def final(self, workflow_id: str) -> str:
        """The workflow's last terminal entry (``WorkflowCompleted`` ...) or ``running``."""
        lines = self.history.get(workflow_id, [])
        terminal = [h.type for h in lines if h.type.startswith("Workflow")]
        last = terminal[-1] if terminal else "missing"
        return "running" if last == "WorkflowStarted" else last

    def idle(self, agent: str) -> bool:
        """Whether ``agent`` answered every input it was given (nothing left to do)."""
        return len(self.results.get(agent, [])) >= self.inputs.get(agent, 0)

    def completions(self) -> list[float]:
        """When each workflow completed, sorted."""
        return sorted(
            h.at for lines in self.history.values() for h in lines if h.type == "WorkflowCompleted"
        )


async def gather(kafka: KafkaSettings, names: TopicNames, payout_file: Path) -> Evidence:
    """Read every topic the invariants need, to its end, read_committed."""
    evidence = Evidence()
    await _coordination(evidence, kafka, names)
    await _gateway(evidence, kafka, names)
    evidence.payouts = [dict(p) for p in payouts(payout_file)]
    return evidence


async def _coordination(evidence: Evidence, kafka: KafkaSettings, names: TopicNames) -> None:
    """History, tasks, results and the moderator's verdicts."""
    serde = EnvelopeSerde()
    async for raw in read_to_end(kafka, names.workflows_history):
        entry = history_entry_of(serde.decode(raw.value, raw.headers))
        if entry is not None and raw.key is not None:
            line = HistoryLine(entry.type, dict(entry.data), raw.timestamp_ms / 1000)
            evidence.history[raw.key.decode()].append(line)
    for agent in TASK_AGENTS:
        async for raw in read_to_end(kafka, names.tasks(agent)):
            evidence.task_ids[serde.decode(raw.value, raw.headers).id] += 1
            evidence.inputs[agent] += 1
    async for raw in read_to_end(kafka, names.results):
        data = serde.decode(raw.value, raw.headers).data
        if isinstance(data, dict) and isinstance(data.get("agent"), str):
            evidence.results[str(data["agent"])].append(raw.timestamp_ms / 1000)
    async for _ in read_to_end(kafka, POSTED):
        evidence.inputs["moderator"] += 1
    async for raw in read_to_end(kafka, MODERATED):
        evidence.results["moderator"].append(raw.timestamp_ms / 1000)


async def _gateway(evidence: Evidence, kafka: KafkaSettings, names: TopicNames) -> None:
    """Decisions, the tool ledger, memory and its audit."""
    async for d in read_decoded(kafka, names.decisions, DECISION_RECORDS):
        if d.value is not None:
            evidence.decisions.append(d.value)
    async for e in read_decoded(kafka, names.tools_ledger, LEDGER_ENTRIES):
        if e.value is not None and e.value.state == "completed":
            evidence.ledger[e.value.key] += 1
    async for m in read_decoded(kafka, names.memory, MEMORY_ITEMS):
        if m.value is not None:
            evidence.memory.add((m.value.bank, m.value.key, m.value.revision))
    async for a in read_decoded(kafka, names.memory_audit, MEMORY_AUDITS):
        if a.value is not None:
            evidence.audits.add((a.value.bank, a.value.key, a.value.revision))
