"""What every partition worker of one agent process shares."""

from __future__ import annotations

from dataclasses import dataclass

from agents._agent import Agent
from agents._faults import FaultPlan
from agents._governed import GatewayPort
from agents._journal import StepJournal
from agents._llm import LLMProvider
from agents._metrics import AgentMetrics
from agents._options import AgentSettings
from longboat._serde import EnvelopeSerde
from longboat._topics import TopicNames

__all__ = ["RuntimeDeps"]


@dataclass(frozen=True, slots=True)
class RuntimeDeps:
    """The agent, its settings and the clients its partitions share."""

    agent: Agent
    settings: AgentSettings
    names: TopicNames
    group_id: str
    serde: EnvelopeSerde
    journal: StepJournal | None
    llm: LLMProvider
    metrics: AgentMetrics
    faults: FaultPlan
    gateway: GatewayPort | None = None
