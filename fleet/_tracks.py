"""An agent's tracks in the fleet file: one ``active`` entry, at most one ``canary`` beside it.

Both entries are one agent: one consumer group (the canary takes its share of the partitions),
one registry record holding both versions (the canary's with status ``canary``). The Helm chart
refuses the same files (``templates/agents.yaml``); docs/fleet.md describes the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from longboat.fleet._model import AgentSpec

__all__ = ["track_problems"]


def track_problems(agents: Sequence[AgentSpec], *, partitions: int) -> list[str]:
    """What is wrong with the entries' tracks, one ``agents.N.field: problem — fix`` per line."""
    problems: list[str] = []
    tracks: dict[str, dict[str, int]] = {"active": {}, "canary": {}}
    for i, agent in enumerate(agents):
        seen = tracks[agent.status]
        if agent.name not in seen:
            seen[agent.name] = i
        elif agent.status == "active":
            problems.append(
                f"agents.{i}.name: {agent.name} is listed twice as active (also agents."
                f"{seen[agent.name]}) — a second version runs beside it only as status: canary"
            )
        else:
            problems.append(
                f"agents.{i}.status: {agent.name} has a second canary (also agents."
                f"{seen[agent.name]}) — run one canary at a time: remove one"
            )
    for name, i in tracks["canary"].items():
        active = tracks["active"].get(name)
        problems += _canary_problems(
            agents, i, None if active is None else agents[active], partitions=partitions
        )
    return problems


def _canary_problems(
    agents: Sequence[AgentSpec], index: int, active: AgentSpec | None, *, partitions: int
) -> list[str]:
    canary = agents[index]
    where = f"agents.{index}"
    if active is None:
        return [
            f"{where}.status: canary {canary.name} has no active entry — add the version it "
            "runs beside (status: active), or remove status: canary"
        ]
    problems = []
    if canary.version == active.version:
        problems.append(
            f"{where}.version: canary {canary.name} has the active entry's version "
            f"{canary.version} — give the canary the new version"
        )
    if any(agent.name == canary.stem for agent in agents):
        # Its instances and the chart's objects are named <name>-canary-N: they would collide.
        problems.append(
            f"{where}.name: {canary.stem} is also an agent of this fleet, and the name of "
            f"{canary.name}'s canary instances — rename that agent"
        )
    if active.replicas + canary.replicas > partitions:
        problems.append(
            f"{where}.replicas: {active.replicas} active + {canary.replicas} canary instances "
            f"share {canary.name}'s consumer group but topics have {partitions} partitions "
            "(extra ones would idle) — lower replicas or raise kafka.partitions"
        )
    return problems
