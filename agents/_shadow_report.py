"""``longboat shadow report``: a shadow run's decisions against production, decision by decision.

For each production run the shadow took, the decisions compared are:

- ``outcome``: completed or dead-lettered (a candidate stopped by a refused step counts as
  changed: it wanted something production did not do);
- ``output:<topic>#<n>``: the n-th output to a topic, its type and data; production outputs are
  the records on the same topics whose causation id is the run's input event id;
- ``tool:<name>#<n>``: the n-th call of a tool and its arguments (production: the journalled
  ``longboat.tool`` steps; candidate: the calls it asked for, served or refused);
- ``policy:<name>#<n>``: the n-th policy question and its input.

Each is *same*, *changed*, *new* (the candidate only) or *missing* (production only). A report
is clean when every decision is the same.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Literal

from pydantic import BaseModel, ConfigDict, JsonValue

from longboat import EnvelopeSerde, KafkaSettings
from longboat.agents._replay import CalledStep, Emitted
from longboat.agents._shadow import ShadowDecision
from longboat.agents._shadow_production import CLOCK_SLACK_MS
from longboat.errors import EventError
from longboat.kafka import read_to_end

__all__ = ["DecisionDiff", "RunComparison", "ShadowReport", "compare", "shadow_report"]

Verdict = Literal["same", "changed", "new", "missing"]


class DecisionDiff(BaseModel):
    """One decision of one run: production's and the candidate's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    decision: str
    verdict: Verdict
    production: JsonValue = None
    candidate: JsonValue = None


class RunComparison(BaseModel):
    """Every decision of one production run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str
    input: str
    decisions: tuple[DecisionDiff, ...]

    @property
    def clean(self) -> bool:
        """Every decision the same."""
        return all(d.verdict == "same" for d in self.decisions)


class ShadowReport(BaseModel):
    """A whole shadow run compared: per run, and the counts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agent: str
    candidate_version: str | None
    shadow_id: str | None
    runs: tuple[RunComparison, ...]
    summary: dict[str, int]
    clean: bool


def _numbered(items: list[tuple[str, JsonValue]]) -> dict[str, JsonValue]:
    seen: Counter[str] = Counter()
    found: dict[str, JsonValue] = {}
    for key, value in items:
        seen[key] += 1
        found[f"{key}#{seen[key]}"] = value
    return found


def _governed(steps: tuple[CalledStep, ...]) -> list[tuple[str, JsonValue]]:
    found: list[tuple[str, JsonValue]] = []
    for step in steps:
        args = step.args if isinstance(step.args, list) else []
        if step.name == "longboat.tool" and args:
            found.append((f"tool:{args[0]}", args[1] if len(args) > 1 else None))
        elif step.name == "longboat.decide" and args:
            found.append((f"policy:{args[0]}", args[1] if len(args) > 1 else None))
    return found


def _outputs(emitted: list[Emitted]) -> list[tuple[str, JsonValue]]:
    return [(f"output:{e.topic}", {"type": e.type, "data": e.data}) for e in emitted]


def _same(a: JsonValue, b: JsonValue) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def compare(decision: ShadowDecision, production_outputs: list[Emitted]) -> RunComparison:
    """One run's decisions: production (its journal and outputs) against the candidate."""
    candidate_outcome = "changed" if decision.outcome == "stopped" else decision.outcome
    prod: dict[str, JsonValue] = {"outcome": decision.production_outcome}
    prod |= _numbered(_governed(decision.production_steps) + _outputs(production_outputs))
    cand: dict[str, JsonValue] = {"outcome": candidate_outcome}
    cand |= _numbered(_governed(decision.steps) + _outputs(list(decision.outputs)))
    diffs = []
    for key in [*prod, *(k for k in cand if k not in prod)]:
        verdict: Verdict
        if key not in cand:
            verdict = "missing"
        elif key not in prod:
            verdict = "new"
        else:
            verdict = "same" if _same(prod[key], cand[key]) else "changed"
        diffs.append(
            DecisionDiff(
                decision=key, verdict=verdict, production=prod.get(key), candidate=cand.get(key)
            )
        )
    where = f"{decision.topic}/{decision.partition}@{decision.offset}"
    return RunComparison(run_id=decision.run_id, input=where, decisions=tuple(diffs))


async def _production_outputs(
    kafka: KafkaSettings, topics: set[str], inputs: set[str], since_ms: int | None
) -> dict[str, list[Emitted]]:
    """Records on ``topics`` caused by one of ``inputs`` (event ids), per input, in order.

    ``since_ms``: the earliest input's time; an output is written after its input, so the
    read starts there (less a clock slack), not at the beginning of each topic.
    """
    serde = EnvelopeSerde()
    found: dict[str, list[Emitted]] = {i: [] for i in inputs}
    start = None if since_ms is None else since_ms - CLOCK_SLACK_MS
    for topic in sorted(topics):
        async for raw in read_to_end(kafka, topic, since_ms=start):
            try:
                event = serde.decode(raw.value, raw.headers)
            except EventError:
                continue  # not an envelope: not an output of these runs
            if event.causationid in found:
                found[event.causationid].append(
                    Emitted(topic=topic, type=event.type, data=event.data)
                )
    return found


async def shadow_report(kafka: KafkaSettings, decisions: list[ShadowDecision]) -> ShadowReport:
    """Compare ``decisions`` (one shadow run's) with production; count the verdicts."""
    topics = {o.topic for d in decisions for o in d.outputs}
    inputs = {d.input_id for d in decisions if d.input_id}
    times = [d.input_time for d in decisions if d.input_time is not None]
    since_ms = (
        int(min(times).timestamp() * 1000) if times and len(times) == len(decisions) else None
    )
    produced = await _production_outputs(kafka, topics, inputs, since_ms) if topics else {}
    runs = tuple(compare(d, produced.get(d.input_id or "", [])) for d in decisions)
    counts = Counter(x.verdict for r in runs for x in r.decisions)
    summary = {v: counts.get(v, 0) for v in ("same", "changed", "new", "missing")}
    return ShadowReport(
        agent=decisions[0].agent if decisions else "",
        candidate_version=decisions[0].candidate_version if decisions else None,
        shadow_id=decisions[0].shadow_id if decisions else None,
        runs=runs,
        summary=summary,
        clean=bool(runs) and all(r.clean for r in runs),
    )
