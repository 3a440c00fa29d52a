"""Shadow runs: a candidate version over a window of recorded production runs, with no side effect.

``run_shadow`` takes every production run of an agent whose input lies in a window (input
offsets or start times), loads its trace (journal + input record) and runs the candidate
handler on the same input with the replay machinery:

- steps the candidate asks for exactly as production did are served from the production trace
  (a tool call, a memory write, an LLM call: nothing runs again, no token is spent);
- new LLM steps run live (``llm="live"``, the provider ``LONGBOAT_LLM__*`` configures) or are
  refused (``llm="replay"``: only recorded answers);
- new tool calls and memory reads or writes go to a gateway port that refuses them and records
  the intent; new steps of the handler's own are refused and recorded too (they may have side
  effects): the candidate stops there, and the report shows what it wanted to do;
- outputs (emits, task results) are captured, never written to their topics: each run's
  :class:`ShadowDecision` (outputs included) goes to ``lb.shadow.<agent>.decisions``.

It reads the journal and input topics with plain readers: it joins no consumer group (the
production group's offsets are never touched) and commits nothing.

``shadow_report`` compares, decision by decision, each shadow decision with its production run:
the outcome, the outputs (production outputs found on the same topics by causation id, as
``ctx.event.caused(...)`` sets it), the tool calls and the policy questions.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from longboat import Envelope, EnvelopeSerde, KafkaSettings, TopicNames, TopicSpec
from longboat.agents._agent import Agent
from longboat.agents._replay import CalledStep, Emitted, replay_trace
from longboat.agents._replay_gateway import ReplayRefused
from longboat.agents._runs import RunSummary, list_runs, load_trace
from longboat.agents._trace import RunOutcome, Trace
from longboat.errors import EventError
from longboat.kafka import Admin, Producer, read_to_end
from longboat.llm import LLMProvider, LLMRequest, LLMResponse

__all__ = [
    "SHADOW_DECISION_TYPE",
    "ShadowDecision",
    "ShadowWindow",
    "read_decisions",
    "run_shadow",
    "shadow_topic",
]

SHADOW_DECISION_TYPE = "longboat.shadow.decision"


def shadow_topic(names: TopicNames, agent: str) -> str:
    """Where shadow decisions of ``agent`` go: ``lb.shadow.<agent>.decisions``."""
    return f"{names.prefix}shadow.{agent}.decisions"


class ShadowWindow(BaseModel):
    """Which production runs a shadow run takes: input offsets and/or start times (inclusive)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    from_offset: int | None = None
    to_offset: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def holds(self, run: RunSummary) -> bool:
        """Whether ``run`` is in the window."""
        if self.from_offset is not None and run.offset < self.from_offset:
            return False
        if self.to_offset is not None and run.offset > self.to_offset:
            return False
        started = run.started
        if self.since is not None and (started is None or started < self.since):
            return False
        return not (self.until is not None and (started is None or started > self.until))


class ShadowDecision(BaseModel):
    """What the candidate did with one production run's input (and what production did)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    shadow_id: str
    agent: str
    candidate_version: str
    run_id: str
    topic: str
    partition: int
    offset: int
    input_id: str | None = None
    production_outcome: RunOutcome
    production_steps: tuple[CalledStep, ...] = ()
    outcome: Literal["completed", "dead_lettered", "stopped", "not_replayable"]
    error: str | None = None
    divergence_step: int | None = None
    steps: tuple[CalledStep, ...] = ()
    intents: tuple[str, ...] = ()
    outputs: tuple[Emitted, ...] = ()


class _ReplayedLLM:
    """``--llm replay``: only recorded answers; a new LLM call is refused, not spent."""

    async def complete(self, request: LLMRequest) -> LLMResponse:
        raise ReplayRefused("a shadow run with --llm replay makes no new LLM call")

    async def close(self) -> None:
        """Nothing to release."""


async def _decide(
    candidate: Agent, trace: Trace, version: str, shadow_id: str, llm: LLMProvider | None
) -> ShadowDecision:
    h = trace.header
    production = tuple(CalledStep(name=s.name, args=s.args) for s in trace.steps)
    base = {
        "shadow_id": shadow_id,
        "agent": h.agent,
        "candidate_version": version,
        "run_id": h.run_id,
        "topic": h.topic,
        "partition": h.partition,
        "offset": h.offset,
        "input_id": h.event.id if h.event else None,
        "production_outcome": h.outcome,
        "production_steps": production,
    }
    if h.event is None:
        error = "its input record is gone from its topic"
        return ShadowDecision.model_validate({**base, "outcome": "not_replayable", "error": error})
    report = await replay_trace(candidate, trace, live=True, only_llm=True, llm=llm)
    return ShadowDecision.model_validate(
        {
            **base,
            "outcome": report.outcome,
            "error": report.error,
            "divergence_step": report.divergence.step if report.divergence else None,
            "steps": report.steps,
            "intents": report.refused,
            "outputs": report.emitted,
        }
    )


async def run_shadow(
    kafka: KafkaSettings,
    names: TopicNames,
    candidate: Agent,
    *,
    candidate_version: str,
    window: ShadowWindow,
    llm: Literal["live", "replay"] = "replay",
    provider: LLMProvider | None = None,
    on_decision: Callable[[ShadowDecision], None] | None = None,
) -> list[ShadowDecision]:
    """Run ``candidate`` over the production runs of its agent in ``window``; record decisions.

    Args:
        kafka: The cluster the production runs are on.
        names: Its topic names.
        candidate: The candidate version's agent (same name as the production agent).
        candidate_version: The version label recorded with every decision.
        window: Which production runs to take.
        llm: ``live`` runs new LLM steps through ``provider`` (default: the configured one);
            ``replay`` serves recorded answers only.
        provider: The LLM provider for ``llm="live"``.
        on_decision: Called with each decision as it is made (progress).

    Raises:
        TopicError: The agent has no journal topic.
    """
    runs = await list_runs(kafka, names, candidate.name)
    chosen = [
        r for r in runs if r.forked_from is None and r.outcome != "in_flight" and window.holds(r)
    ]
    shadow_id = uuid.uuid4().hex
    chosen_llm = provider if llm == "live" else _ReplayedLLM()
    decisions = []
    for run in chosen:
        trace = await load_trace(kafka, names, run.run_id, agent=candidate.name)
        decision = await _decide(candidate, trace, candidate_version, shadow_id, chosen_llm)
        decisions.append(decision)
        if on_decision is not None:
            on_decision(decision)
    await _record(kafka, names, candidate.name, decisions)
    return decisions


async def _record(
    kafka: KafkaSettings, names: TopicNames, agent: str, decisions: list[ShadowDecision]
) -> None:
    topic = shadow_topic(names, agent)
    async with Admin(kafka) as admin:
        await admin.ensure_topics([TopicSpec(topic, 1)])
    serde = EnvelopeSerde()
    async with Producer(kafka) as producer:
        for decision in decisions:
            event = Envelope(
                type=SHADOW_DECISION_TYPE,
                source=f"longboat/shadow/{agent}",
                data=decision.model_dump(mode="json"),
            )
            encoded = serde.encode(event)
            await producer.send(
                topic, encoded.value, key=decision.run_id.encode(), headers=encoded.headers
            )


async def read_decisions(
    kafka: KafkaSettings, names: TopicNames, agent: str, *, candidate_version: str | None = None
) -> list[ShadowDecision]:
    """The decisions of ``agent``'s latest shadow run (of ``candidate_version``, if given)."""
    serde = EnvelopeSerde()
    found: list[ShadowDecision] = []
    async for raw in read_to_end(kafka, shadow_topic(names, agent)):
        try:
            decision = ShadowDecision.model_validate(serde.decode(raw.value, raw.headers).data)
        except (EventError, ValidationError):
            continue  # not a decision: the topic is ours, but a stray record must not stop us
        if candidate_version is None or decision.candidate_version == candidate_version:
            found.append(decision)
    latest = found[-1].shadow_id if found else None
    return [d for d in found if d.shadow_id == latest]
