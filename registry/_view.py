"""A live, read-only view of ``lb.registry`` that any process can hold."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from pydantic import ValidationError

from longboat import KafkaSettings, get_logger
from longboat.kafka import ConsumedRecord, TopicFollower
from longboat.registry._model import AgentRecord, VersionEntry

__all__ = ["RegistryView", "apply_record"]

_log = get_logger("registry.view")


def apply_record(state: dict[str, AgentRecord], record: ConsumedRecord) -> None:
    """Fold one ``lb.registry`` record into ``state`` (a tombstone removes the agent)."""
    agent_id = (record.key or b"").decode(errors="replace")
    if record.value is None:
        state.pop(agent_id, None)
        return
    try:
        state[agent_id] = AgentRecord.model_validate_json(record.value)
    except ValidationError as e:
        # Only the registry writes this topic; a bad record is a bug to see, not to crash on.
        _log.error("registry_record_invalid", offset=record.offset, error_type=type(e).__name__)


class RegistryView:
    """Materialises the registry topic and follows it; ``get`` answers from memory."""

    def __init__(self, kafka: KafkaSettings, topic: str) -> None:
        """Create the view; ``async with`` starts following the topic."""
        self.topic = topic
        self._state: dict[str, AgentRecord] = {}
        self._follower = TopicFollower(
            kafka, topic, lambda record: apply_record(self._state, record)
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
