"""A live, read-only view of ``lb.registry`` that any process can hold."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from longboat import KafkaSettings
from longboat.kafka import Decoded, TopicFollower
from longboat.registry._model import AGENT_RECORDS, AgentRecord, VersionEntry

__all__ = ["RegistryView", "apply_record"]


def apply_record(state: dict[str, AgentRecord], item: Decoded[AgentRecord]) -> None:
    """Fold one decoded ``lb.registry`` record into ``state`` (a tombstone removes the agent).

    Records the codec could not decode never get here: they are logged and skipped, because
    the topic is compacted and a junk record would otherwise break every later start.
    """
    if item.value is None:
        state.pop(item.key, None)
    else:
        state[item.key] = item.value


class RegistryView:
    """Materialises the registry topic and follows it; ``get`` answers from memory."""

    def __init__(self, kafka: KafkaSettings, topic: str) -> None:
        """Create the view; ``async with`` starts following the topic."""
        self.topic = topic
        self._state: dict[str, AgentRecord] = {}
        self._follower = TopicFollower(
            kafka, topic, AGENT_RECORDS, lambda item: apply_record(self._state, item)
        )

    async def __aenter__(self) -> Self:
        await self._follower.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._follower.__aexit__(exc_type, exc, tb)

    def get(self, agent_id: str) -> AgentRecord | None:
        """The agent's record as last seen."""
        return self._state.get(agent_id)

    def lookup(self, agent_id: str, version: str) -> VersionEntry | None:
        """One version of one agent."""
        record = self._state.get(agent_id)
        return record.versions.get(version) if record else None

    def agents(self) -> list[AgentRecord]:
        """Every agent, by id."""
        return [self._state[k] for k in sorted(self._state)]
