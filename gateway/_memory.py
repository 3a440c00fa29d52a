"""Governed memory: banks and per-agent profiles in the compacted ``lb.memory`` topic.

Each write is one transaction holding the new value (``lb.memory``, key ``bank/key``) and its
provenance (``lb.memory.audit``), so the audit trail never misses a change. Every gateway
follows ``lb.memory`` and serves reads from memory; searches from its index (BM25, and with an
embeddings endpoint also semantic and hybrid ranking).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from types import TracebackType
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from longboat import KafkaSettings, RecordCodec, TopicNames, utc_now
from longboat.errors import UsageError
from longboat.gateway._embeddings import (
    Embedder,
    EmbeddingsNotConfigured,
    EmbeddingsSettings,
    Vector,
)
from longboat.gateway._index import (
    MemoryIndex,
    SearchMode,
    fts_query,
    hybrid_depth,
    rank_by_vector,
)
from longboat.kafka import Decoded, TopicFollower, TransactionalProducer

__all__ = [
    "MAX_RECORD_BYTES",
    "MAX_VALUE_BYTES",
    "MEMORY_AUDITS",
    "MEMORY_ITEMS",
    "MemoryAudit",
    "MemoryItem",
    "MemoryStore",
    "MemoryTooLarge",
    "Provenance",
    "profile_bank",
]

MAX_VALUE_BYTES = 256 * 1024
"""Largest write body the gateway reads (value and provenance, as JSON)."""
MAX_RECORD_BYTES = 900 * 1024
"""Largest ``lb.memory`` or ``lb.memory.audit`` value written: under Kafka's default 1 MiB
``max.request.size``, with room for headers. An audit record holds old and new value, so it
is checked on its own, before the transaction starts."""


# Semantic rankings computed at once (worker threads): more would only queue on the GIL.
_RANKERS = 2


class MemoryTooLarge(UsageError):
    """A memory record would exceed :data:`MAX_RECORD_BYTES` (the caller gets a 413)."""

    code = "memory_too_large"


_PROFILE_PREFIX = "profile:"


def profile_bank(agent_id: str) -> str:
    """The internal bank holding one agent's profile."""
    return f"{_PROFILE_PREFIX}{agent_id}"


class Provenance(BaseModel):
    """Who changed a memory, why, and under which decision."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agent: str
    version: str
    workflow_id: str | None = None
    run_id: str | None = None
    source_event: str | None = None
    decision_id: str
    policy_digest: str | None = None


class MemoryItem(BaseModel):
    """One remembered value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bank: str
    key: str
    value: JsonValue
    revision: int
    updated_at: datetime
    provenance: Provenance
    pii: list[str] = []
    scope: str | None = Field(default=None, min_length=1, max_length=200)


class MemoryAudit(BaseModel):
    """One change, as ``lb.memory.audit`` keeps it forever."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    op: Literal["put", "delete"]
    bank: str
    key: str
    value: JsonValue = None
    previous: JsonValue = None
    revision: int
    time: datetime
    provenance: Provenance
    pii: list[str] = []


MEMORY_ITEMS: RecordCodec[MemoryItem] = RecordCodec(MemoryItem)
"""The serde of ``lb.memory`` values (key ``bank/key``; a tombstone forgets the key)."""
MEMORY_AUDITS: RecordCodec[MemoryAudit] = RecordCodec(MemoryAudit)
"""The serde of ``lb.memory.audit`` values (key ``bank/key``)."""


class MemoryStore:
    """Materialises ``lb.memory`` and writes changes with their audit records."""

    def __init__(
        self,
        kafka: KafkaSettings,
        names: TopicNames,
        *,
        writer_id: str,
        embeddings: EmbeddingsSettings | None = None,
    ) -> None:
        """Create the store; ``writer_id`` must be unique per gateway instance.

        ``embeddings`` with a ``base_url``: items are embedded too (semantic search).
        """
        self._kafka = kafka
        self._names = names
        self._items: dict[tuple[str, str], MemoryItem] = {}
        self._index = MemoryIndex()
        self.embedder = (
            Embedder(embeddings, self._vector) if embeddings and embeddings.base_url else None
        )
        self._embed_pii = bool(embeddings and embeddings.include_pii)
        self._producer = TransactionalProducer(
            kafka, transactional_id=f"{names.prefix}gateway.memory.{writer_id}"
        )
        self._follower = TopicFollower(kafka, names.memory, MEMORY_ITEMS, self._apply)
        self._lock = asyncio.Lock()
        self._ranking = asyncio.Semaphore(_RANKERS)

    async def __aenter__(self) -> Self:
        # The embedder first: the follower's rebuild notes every item for it, and it works
        # through them in the background while the gateway already serves.
        if self.embedder is not None:
            await self.embedder.__aenter__()
        try:
            await self._producer.start()
            try:
                await self._follower.__aenter__()
            except BaseException:
                await self._producer.stop()
                raise
        except BaseException as e:
            if self.embedder is not None:
                await self.embedder.__aexit__(type(e), e, e.__traceback__)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._follower.__aexit__(exc_type, exc, tb)
        await self._producer.stop()
        if self.embedder is not None:
            await self.embedder.__aexit__(exc_type, exc, tb)
        self._index.close()

    def _apply(self, record: Decoded[MemoryItem]) -> None:
        bank, _, key = record.key.partition("/")
        item = record.value
        if item is None:
            self._forget(bank, key)
            return
        current = self._items.get((bank, key))
        if current is None or item.revision >= current.revision:
            self._keep(item)

    def _keep(self, item: MemoryItem) -> None:
        self._items[(item.bank, item.key)] = item
        text = self._index.put(item.bank, item.key, item.scope, item.value)
        if text is not None and self._embeds(item):
            assert self.embedder is not None
            self.embedder.note(item.bank, item.key, text)

    def _embeds(self, item: MemoryItem) -> bool:
        """Whether ``item`` is sent to the embeddings endpoint.

        Not profiles (never searched), and not items holding personal data unless the
        operator said so: the endpoint is usually a third party.
        """
        if self.embedder is None or item.bank.startswith(_PROFILE_PREFIX):
            return False
        return not item.pii or self._embed_pii

    def _forget(self, bank: str, key: str) -> None:
        self._items.pop((bank, key), None)
        self._index.remove(bank, key)
        if self.embedder is not None:
            self.embedder.forget(bank, key)

    def _vector(self, bank: str, key: str, text: str, vector: Vector) -> None:
        self._index.put_vector(bank, key, text, vector)

    @property
    def embedded(self) -> int:
        """How many items have a vector (semantic search finds only those)."""
        return self._index.vectors()

    def get(self, bank: str, key: str) -> MemoryItem | None:
        """The current value of ``bank/key``."""
        return self._items.get((bank, key))

    def bank(self, bank: str, *, limit: int = 1000) -> list[MemoryItem]:
        """The items of ``bank`` (at most ``limit``), in key order."""
        return [self._items[bank, key] for key in self._index.keys(bank, limit=limit)]

    async def search(
        self,
        bank: str,
        query: str,
        *,
        scope: str | None = None,
        limit: int = 10,
        mode: SearchMode = "bm25",
    ) -> list[MemoryItem]:
        """Items of ``bank`` in ``scope`` matching ``query``, best first.

        ``bm25``: any query word, BM25 order. ``semantic``: closest vectors (items embedded
        so far). ``hybrid``: both, fused by reciprocal rank. No words: the newest items of the
        scope, whatever the mode. Scoped and unscoped items never mix.

        Raises:
            EmbeddingsNotConfigured: ``semantic``/``hybrid`` without an embeddings endpoint.
            EmbeddingsUnavailable: The endpoint did not embed the query.
        """
        if mode == "bm25" or fts_query(query) is None:
            keys = self._index.search(bank, query, scope=scope, limit=limit)
        else:
            if self.embedder is None:
                raise EmbeddingsNotConfigured(
                    f"{mode} search needs an embeddings endpoint: set "
                    "LONGBOAT_GATEWAY__EMBEDDINGS__BASE_URL (and __MODEL) on the gateway, or "
                    "search with mode=bm25"
                )
            vector = await self.embedder.query(query)
            depth = limit if mode == "semantic" else hybrid_depth(limit)
            candidates = self._index.candidates(bank, scope)
            # Ranking is pure Python over the scope's vectors (a whole bank: many thousands):
            # in a worker thread, a few at once, so the event loop keeps serving meanwhile.
            async with self._ranking:
                ranked = await asyncio.to_thread(rank_by_vector, vector, candidates, depth)
            if mode == "semantic":
                keys = ranked
            else:
                keys = self._index.hybrid(bank, query, ranked, scope=scope, limit=limit)
        # A key ranked in the thread may have been deleted meanwhile: skip it.
        return [self._items[bank, key] for key in keys if (bank, key) in self._items]

    async def put(
        self,
        bank: str,
        key: str,
        value: JsonValue,
        provenance: Provenance,
        pii: list[str],
        *,
        scope: str | None = None,
    ) -> MemoryItem:
        """Write a value and its audit record in one transaction."""
        async with self._lock:
            previous = self._items.get((bank, key))
            item = MemoryItem(
                bank=bank,
                key=key,
                value=value,
                revision=(previous.revision + 1) if previous else 1,
                updated_at=utc_now(),
                provenance=provenance,
                pii=pii,
                scope=scope,
            )
            audit = MemoryAudit(
                op="put",
                bank=bank,
                key=key,
                value=value,
                previous=previous.value if previous else None,
                revision=item.revision,
                time=item.updated_at,
                provenance=provenance,
                pii=pii,
            )
            await self._commit(bank, key, MEMORY_ITEMS.encode(item), audit)
            self._keep(item)
            return item

    async def delete(self, bank: str, key: str, provenance: Provenance) -> bool:
        """Delete ``bank/key`` (a tombstone) with an audit record; False if it did not exist."""
        async with self._lock:
            previous = self._items.get((bank, key))
            if previous is None:
                return False
            audit = MemoryAudit(
                op="delete",
                bank=bank,
                key=key,
                previous=previous.value,
                revision=previous.revision + 1,
                time=utc_now(),
                provenance=provenance,
            )
            await self._commit(bank, key, None, audit)
            self._forget(bank, key)
            return True

    async def _commit(self, bank: str, key: str, value: bytes | None, audit: MemoryAudit) -> None:
        record_key = f"{bank}/{key}".encode()
        audit_value = MEMORY_AUDITS.encode(audit)
        # Checked before the transaction: a record the broker refuses would abort it with a
        # 500 the agent retries forever; a 413 tells it the write can never succeed.
        largest = max(len(value or b""), len(audit_value)) + len(record_key)
        if largest > MAX_RECORD_BYTES:
            raise MemoryTooLarge(
                f"writing {bank}/{key} needs a {largest}-byte record (the audit record holds the "
                f"old and the new value); the limit is {MAX_RECORD_BYTES} bytes: store smaller "
                "values, or delete the key before writing a large value again"
            )
        async with self._producer.transaction():
            await self._producer.send(self._names.memory, value, key=record_key)
            await self._producer.send(self._names.memory_audit, audit_value, key=record_key)
