"""What every partition worker of one agent process shares."""

from __future__ import annotations

from dataclasses import dataclass

from longboat import EnvelopeSerde, TopicNames
from longboat.agents._agent import Agent
from longboat.agents._faults import FaultPlan
from longboat.agents._governed import GatewayPort
from longboat.agents._journal import StepJournal
from longboat.agents._metrics import AgentMetrics
from longboat.agents._options import AgentSettings
from longboat.llm import LLMProvider

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
    llm_via_gateway: bool = False
