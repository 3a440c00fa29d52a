"""The catalogue of MCP tool definitions and their approvals (``lb.tools.catalog``).

Every definition a gateway discovers is recorded under ``<server>.<tool>@<digest>`` as
``pending``; an operator approves exactly that digest (``longboat tools approve``). A tool is
callable only while the definition its server serves now has an approved record: a changed
description, input schema or annotation is a new digest, refused until approved again (tool
poisoning and drift). Gateways follow the topic, so an approval applies to every replica
without a restart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from longboat import KafkaSettings, RecordCodec, TopicNames, utc_now
from longboat.gateway._following import FollowingWriter
from longboat.gateway._mcp import ToolDefinition
from longboat.kafka import Decoded, Producer, TopicFollower, read_decoded

__all__ = [
    "CATALOG_ENTRIES",
    "CatalogEntry",
    "ToolCatalogue",
    "approve_tool",
    "catalog_key",
    "read_catalogue",
]


class CatalogEntry(BaseModel):
    """One tool definition and whether an operator approved it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    definition: ToolDefinition
    status: Literal["pending", "approved"]
    by: str
    time: datetime


CATALOG_ENTRIES: RecordCodec[CatalogEntry] = RecordCodec(CatalogEntry)
"""The serde of ``lb.tools.catalog`` values (key: :func:`catalog_key`)."""


def catalog_key(definition: ToolDefinition) -> str:
    """``server.tool@digest``. Never change the format: approvals are found by it."""
    return f"{definition.name}@{definition.digest}"


class ToolCatalogue(FollowingWriter):
    """The served definitions of this gateway's MCP tools, checked against the approvals."""

    def __init__(self, kafka: KafkaSettings, names: TopicNames, *, instance: str) -> None:
        """Create the catalogue; ``async with`` follows the topic."""
        self._topic = names.tools_catalog
        self._instance = instance
        self._entries: dict[str, CatalogEntry] = {}
        self._served: dict[str, ToolDefinition] = {}
        self._follower = TopicFollower(kafka, self._topic, CATALOG_ENTRIES, self._apply)
        self._producer = Producer(kafka, linger_ms=0)

    def _apply(self, record: Decoded[CatalogEntry]) -> None:
        if record.value is None:
            self._entries.pop(record.key, None)
        else:
            self._entries[record.key] = record.value

    async def serve(self, definitions: list[ToolDefinition]) -> None:
        """Adopt what the servers serve now; record each new definition as pending."""
        self._served = {d.name: d for d in definitions}
        for definition in definitions:
            key = catalog_key(definition)
            if key in self._entries:
                continue
            entry = CatalogEntry(
                definition=definition, status="pending", by=self._instance, time=utc_now()
            )
            await self._producer.send(self._topic, CATALOG_ENTRIES.encode(entry), key=key.encode())
            self._entries[key] = entry

    @property
    def names(self) -> list[str]:
        """The served tool names."""
        return sorted(self._served)

    def served(self, name: str) -> ToolDefinition | None:
        """The definition served now under ``name`` (approved or not)."""
        return self._served.get(name)

    def approved(self, definition: ToolDefinition) -> bool:
        """Whether an operator approved exactly this definition."""
        entry = self._entries.get(catalog_key(definition))
        return entry is not None and entry.status == "approved"


async def read_catalogue(kafka: KafkaSettings, names: TopicNames) -> list[CatalogEntry]:
    """Every recorded definition, the latest record of each key (for ``longboat tools list``)."""
    latest: dict[str, CatalogEntry] = {}
    async for record in read_decoded(kafka, names.tools_catalog, CATALOG_ENTRIES):
        if record.value is None:
            latest.pop(record.key, None)
        else:
            latest[record.key] = record.value
    return sorted(latest.values(), key=lambda e: (e.definition.name, e.time))


async def approve_tool(
    kafka: KafkaSettings, names: TopicNames, name: str, digest: str, *, operator: str
) -> CatalogEntry:
    """Approve the recorded definition ``name@digest`` (it must have been discovered).

    Raises:
        LookupError: No gateway recorded that definition (the message lists what there is).
    """
    entries = await read_catalogue(kafka, names)
    for entry in entries:
        if entry.definition.name == name and entry.definition.digest == digest:
            approved = entry.model_copy(
                update={"status": "approved", "by": operator, "time": utc_now()}
            )
            async with Producer(kafka, linger_ms=0) as producer:
                key = catalog_key(entry.definition).encode()
                await producer.send(names.tools_catalog, CATALOG_ENTRIES.encode(approved), key=key)
            return approved
    known = [catalog_key(e.definition) for e in entries if e.definition.name == name]
    raise LookupError(
        f"no discovered definition {name}@{digest}; known: {', '.join(known) or 'none'}"
    )
