"""Shadow runs: the shadow's records (decisions, outputs), its names, and reading them back.

A shadow run (``_shadow_run.py``) runs a candidate version over an agent's real input records
with no side effect; each input gives one :class:`ShadowDecision` on
``lb.shadow.<agent>.decisions`` and the candidate's outputs on ``lb.shadow.<agent>.outputs``.
``shadow_report`` (``_shadow_report.py``) compares the decisions with production.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from longboat import EnvelopeSerde, KafkaSettings, TopicNames
from longboat.agents._replay import CalledStep, Emitted
from longboat.agents._trace import RunOutcome
from longboat.errors import EventError
from longboat.kafka import read_to_end

__all__ = [
    "SHADOW_DECISION_TYPE",
    "SHADOW_TOPIC_HEADER",
    "ShadowDecision",
    "ShadowWindow",
    "read_decisions",
    "shadow_group",
    "shadow_output_topic",
    "shadow_topic",
]

SHADOW_DECISION_TYPE = "longboat.shadow.decision"
# On a shadow output record: the topic the candidate meant it for (it was never written there).
SHADOW_TOPIC_HEADER = "lb-shadow-topic"


def shadow_topic(names: TopicNames, agent: str) -> str:
    """Where shadow decisions of ``agent`` go: ``lb.shadow.<agent>.decisions``."""
    return f"{names.prefix}shadow.{agent}.decisions"


def shadow_output_topic(names: TopicNames, agent: str) -> str:
    """Where a shadow of ``agent`` writes the candidate's outputs: ``lb.shadow.<agent>.outputs``.

    One topic for every output topic of the agent (each record names its real topic in the
    ``lb-shadow-topic`` header): a shadow creates no topic per output topic and version.
    """
    return f"{names.prefix}shadow.{agent}.outputs"


def shadow_group(names: TopicNames, agent: str, version: str) -> str:
    """The consumer group (and transactional id) of a shadow of ``agent`` at ``version``.

    ``lb.shadow.<agent>.<version>``: never the production group ``lb.agent.<agent>``, so a
    shadow moves only its own offsets.
    """
    return f"{names.prefix}shadow.{agent}.{version}"


class ShadowWindow(BaseModel):
    """Which input records a shadow run takes: offsets and/or record times (inclusive).

    No start: where the shadow group stopped last time (the beginning, the first time). No
    end: up to where production has got (and on, with ``--follow``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    from_offset: int | None = None
    to_offset: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    @model_validator(mode="after")
    def _aware(self) -> ShadowWindow:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} {value.isoformat()}: give a time zone (+00:00)")
        return self

    @property
    def since_ms(self) -> int | None:
        """``since`` in epoch milliseconds (record time)."""
        return None if self.since is None else int(self.since.timestamp() * 1000)

    @property
    def until_ms(self) -> int | None:
        """``until`` in epoch milliseconds (record time)."""
        return None if self.until is None else int(self.until.timestamp() * 1000)


class ShadowDecision(BaseModel):
    """What the candidate did with one input record (and what production did with it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    shadow_id: str
    agent: str
    candidate_version: str
    run_id: str
    topic: str
    partition: int
    offset: int
    input_id: str | None = None
    input_time: datetime | None = None  # the input record's time: bounds the report's reads
    production_outcome: RunOutcome
    production_journalled: bool = True  # False: production's steps (tool calls) are unknown
    production_steps: tuple[CalledStep, ...] = ()
    outcome: Literal["completed", "dead_lettered", "stopped", "not_replayable"]
    error: str | None = None
    divergence_step: int | None = None
    steps: tuple[CalledStep, ...] = ()
    intents: tuple[str, ...] = ()
    outputs: tuple[Emitted, ...] = ()


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
