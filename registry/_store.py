"""The registry's state and its only writer: every change is one transaction on ``lb.registry``.

The transactional id is fixed per topic, so a second registry process fences the first: there
is never more than one writer, whatever the deployment does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

from longboat import KafkaSettings
from longboat.errors import UsageError
from longboat.kafka import TransactionalProducer, read_decoded
from longboat.registry._model import (
    AGENT_RECORDS,
    AgentKey,
    AgentRecord,
    Capability,
    InstanceInfo,
    RiskTier,
    Status,
    VersionEntry,
    key_id,
)
from longboat.registry._view import apply_record

__all__ = ["RegistryStore", "UnknownAgent"]


class UnknownAgent(UsageError):
    """The agent (or version) named is not enrolled."""

    code = "agent_unknown"


class RegistryStore:
    """Holds every agent record and writes each change durably before it counts."""

    def __init__(
        self,
        kafka: KafkaSettings,
        topic: str,
        *,
        rotation_grace: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """Create the store; ``async with`` fences other writers and loads the topic."""
        self._kafka = kafka
        self.topic = topic
        self._grace = rotation_grace
        self._clock = clock
        self._state: dict[str, AgentRecord] = {}
        self._lock = asyncio.Lock()
        self._producer = TransactionalProducer(
            kafka, transactional_id=f"{topic}.writer", linger_ms=0
        )

    async def __aenter__(self) -> Self:
        await self._producer.start()  # fences any other registry first
        try:
            await self._load()
        except BaseException:
            await self._producer.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._producer.stop()

    async def _load(self) -> None:
        async for item in read_decoded(self._kafka, self.topic, AGENT_RECORDS):
            apply_record(self._state, item)

    def get(self, agent_id: str) -> AgentRecord | None:
        """The current record of ``agent_id``."""
        return self._state.get(agent_id)

    def agents(self) -> list[AgentRecord]:
        """Every agent, by id."""
        return [self._state[k] for k in sorted(self._state)]

    async def _write(self, record: AgentRecord) -> AgentRecord:
        async with self._producer.transaction():
            await self._producer.send(
                self.topic, AGENT_RECORDS.encode(record), key=record.agent_id.encode()
            )
        self._state[record.agent_id] = record
        return record

    def _require(self, agent_id: str, version: str | None = None) -> AgentRecord:
        record = self._state.get(agent_id)
        if record is None:
            raise UnknownAgent(
                f"no agent {agent_id!r} is enrolled (longboat agents enroll {agent_id} ...)"
            )
        if version is not None and version not in record.versions:
            raise UnknownAgent(f"agent {agent_id} has no version {version!r}")
        return record

    async def enroll(
        self,
        agent_id: str,
        *,
        version: str,
        public_key: str,
        capabilities: tuple[Capability, ...] = (),
        owner: str | None = None,
        risk_tier: RiskTier | None = None,
        prompt_version: str | None = None,
    ) -> AgentRecord:
        """Enrol an agent version with a public key; a new key for an enrolled version rotates.

        The previous keys of that version stay valid for the rotation grace period.
        """
        async with self._lock:
            now = self._clock()
            current = self._state.get(agent_id)
            versions = dict(current.versions) if current else {}
            new_key = AgentKey(kid=key_id(public_key), public_key=public_key, created_at=now)
            previous = versions.get(version)
            if previous is not None and previous.key(new_key.kid) is not None:
                return current  # type: ignore[return-value]  # same key again: nothing changes
            keys: tuple[AgentKey, ...] = (new_key,)
            if previous is not None:
                keys += tuple(
                    k if k.valid_until else k.model_copy(update={"valid_until": now + self._grace})
                    for k in previous.keys
                )
            versions[version] = VersionEntry(
                version=version,
                keys=keys,
                enrolled_at=previous.enrolled_at if previous else now,
                capabilities=capabilities or (previous.capabilities if previous else ()),
                status=previous.status if previous else "active",
                prompt_version=prompt_version or (previous.prompt_version if previous else None),
                instances=previous.instances if previous else {},
            )
            record = AgentRecord(
                agent_id=agent_id,
                owner=owner or (current.owner if current else "unknown"),
                risk_tier=risk_tier or (current.risk_tier if current else "medium"),
                versions=versions,
                updated_at=now,
                revision=(current.revision + 1) if current else 1,
            )
            return await self._write(record)

    async def set_status(
        self, agent_id: str, status: Status, *, version: str | None = None
    ) -> AgentRecord:
        """Set the status of one version, or of every version when ``version`` is None."""
        async with self._lock:
            current = self._require(agent_id, version)
            targets = [version] if version else list(current.versions)
            versions = {
                v: (e.model_copy(update={"status": status}) if v in targets else e)
                for v, e in current.versions.items()
            }
            return await self._write(
                current.model_copy(
                    update={
                        "versions": versions,
                        "updated_at": self._clock(),
                        "revision": current.revision + 1,
                    }
                )
            )

    async def heartbeat(
        self, agent_id: str, version: str, instance: str, code_digest: str | None
    ) -> AgentRecord:
        """Record that ``instance`` of ``agent_id`` ``version`` is alive."""
        async with self._lock:
            current = self._require(agent_id, version)
            entry = current.versions[version]
            now = self._clock()
            known = entry.instances.get(instance)
            info = InstanceInfo(
                instance=instance,
                code_digest=code_digest,
                started_at=known.started_at if known else now,
                last_heartbeat=now,
            )
            updated = entry.model_copy(
                update={
                    "instances": {**entry.instances, instance: info},
                    "code_digest": code_digest or entry.code_digest,
                }
            )
            return await self._write(
                current.model_copy(
                    update={
                        "versions": {**current.versions, version: updated},
                        "updated_at": now,
                        "revision": current.revision + 1,
                    }
                )
            )
