"""The registry's state and its only writer: every change is one transaction on ``lb.registry``.

The transactional id is fixed per topic, so a second registry process fences the first: there
is never more than one writer, whatever the deployment does.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

from longboat import KafkaSettings
from longboat.errors import UsageError
from longboat.kafka import TransactionalProducer, read_decoded
from longboat.registry._model import (
    AGENT_RECORDS,
    CODE_DIGEST_PATTERN,
    INSTANCE_PATTERN,
    MAX_INSTANCES_PER_VERSION,
    AgentKey,
    AgentRecord,
    Capability,
    InstanceCounters,
    InstanceInfo,
    RiskTier,
    Status,
    VersionEntry,
    key_id,
)
from longboat.registry._view import apply_record

__all__ = [
    "MAX_RECORD_BYTES",
    "HeartbeatInvalid",
    "RecordTooLarge",
    "RegistryStore",
    "UnknownAgent",
    "records_per_s",
]

MAX_RECORD_BYTES = 512 * 1024
"""Largest ``lb.registry`` value the store writes (half of Kafka's default 1 MiB limit)."""

_INSTANCE = re.compile(INSTANCE_PATTERN)
_CODE_DIGEST = re.compile(CODE_DIGEST_PATTERN)


class UnknownAgent(UsageError):
    """The agent (or version) named is not enrolled."""

    code = "agent_unknown"


class HeartbeatInvalid(UsageError):
    """A heartbeat's instance name or code digest is not of the accepted form."""

    code = "heartbeat_invalid"


class RecordTooLarge(UsageError):
    """A change would make an agent's record larger than :data:`MAX_RECORD_BYTES`."""

    code = "record_too_large"


def check_heartbeat(instance: str, code_digest: str | None) -> None:
    """Refuse instance names and code digests outside their bounds (before any write).

    Raises:
        HeartbeatInvalid: Saying which field and what it must look like.
    """
    if not _INSTANCE.fullmatch(instance):
        raise HeartbeatInvalid(
            f"instance {instance[:40]!r} must be a host or pod name (letters, digits, . _ : -, "
            "at most 253 characters): set the token's ins claim / LONGBOAT_AGENT__INSTANCE"
        )
    if code_digest is not None and not _CODE_DIGEST.fullmatch(code_digest):
        raise HeartbeatInvalid(
            f"code_digest {code_digest[:40]!r} must be sha256: and 64 lower-case hex digits"
        )


def _bounded(instance: str, code_digest: str | None) -> bool:
    try:
        check_heartbeat(instance, code_digest)
    except HeartbeatInvalid:
        return False
    return True


def _without_instances(record: AgentRecord) -> AgentRecord:
    """``record`` with no instances: liveness only, refilled by the next heartbeats."""
    versions = {v: e.model_copy(update={"instances": {}}) for v, e in record.versions.items()}
    return record.model_copy(update={"versions": versions})


def records_per_s(
    previous: InstanceInfo | None, counters: InstanceCounters | None, now: datetime
) -> float | None:
    """Records finished per second since ``previous`` heartbeat; None when it cannot be known.

    The agent reports totals, not rates, so that a lost heartbeat loses no records: the next
    one covers the whole gap. Totals that went down mean the process restarted (they count
    from its start): no rate for that one interval rather than a negative or a wrong one.
    """
    before = previous.counters if previous else None
    if previous is None or before is None or counters is None:
        return None
    seconds = (now - previous.last_heartbeat).total_seconds()
    done = counters.processed - before.processed
    if seconds <= 0 or done < 0:
        return None
    return round(done / seconds, 3)


def _keep_freshest(instances: dict[str, InstanceInfo]) -> dict[str, InstanceInfo]:
    """At most :data:`MAX_INSTANCES_PER_VERSION` instances, the stalest evicted."""
    if len(instances) <= MAX_INSTANCES_PER_VERSION:
        return instances
    freshest = sorted(instances.values(), key=lambda i: i.last_heartbeat, reverse=True)
    return {i.instance: i for i in freshest[:MAX_INSTANCES_PER_VERSION]}


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

    async def _write(self, record: AgentRecord, *, must_land: bool = False) -> AgentRecord:
        """Write ``record``; its encoded size is checked first, never left to the broker.

        ``must_land`` (status changes, above all revocation): a record grown too large sheds its
        instances, the only part agents write, so an agent can never make itself unrevocable.
        """
        value = AGENT_RECORDS.encode(record)
        if len(value) > MAX_RECORD_BYTES and must_land:
            record = _without_instances(record)
            value = AGENT_RECORDS.encode(record)
        if len(value) > MAX_RECORD_BYTES:
            raise RecordTooLarge(
                f"the record of {record.agent_id} would be {len(value)} bytes; "
                f"the registry writes at most {MAX_RECORD_BYTES}"
            )
        async with self._producer.transaction():
            await self._producer.send(self.topic, value, key=record.agent_id.encode())
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
                ),
                must_land=True,
            )

    async def heartbeat(
        self,
        agent_id: str,
        version: str,
        instance: str,
        code_digest: str | None,
        *,
        counters: InstanceCounters | None = None,
    ) -> AgentRecord:
        """Record that ``instance`` of ``agent_id`` ``version`` is alive, with its totals.

        Raises:
            HeartbeatInvalid: The instance name or code digest is out of bounds.
            UnknownAgent: No such agent or version.
        """
        check_heartbeat(instance, code_digest)
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
                counters=counters,
                records_per_s=records_per_s(known, counters, now),
            )
            # Entries written before the bounds existed are dropped as they are met.
            kept = {k: i for k, i in entry.instances.items() if _bounded(i.instance, i.code_digest)}
            previous_digest = entry.code_digest if _bounded(instance, entry.code_digest) else None
            updated = entry.model_copy(
                update={
                    "instances": _keep_freshest({**kept, instance: info}),
                    "code_digest": code_digest or previous_digest,
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
