"""``longboat memory audit``: how a memory changed, and who changed it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from longboat import Settings, TopicNames
from longboat.cli._app import run_async, settings_from
from longboat.kafka import read_decoded

if TYPE_CHECKING:
    from longboat.gateway import MemoryAudit

__all__ = ["memory"]


@click.group()
def memory() -> None:
    """Governed agent memory."""


@memory.command()
@click.argument("bank")
@click.option("--key", help="Only this key.")
@click.option("--json", "as_json", is_flag=True, help="One audit record per line.")
@click.pass_context
def audit(ctx: click.Context, bank: str, key: str | None, as_json: bool) -> None:
    """Every change to BANK (oldest first): value, agent, version, workflow, decision."""
    from longboat.gateway import MEMORY_AUDITS

    settings = settings_from(ctx)
    for entry in run_async(_read(settings, bank, key)):
        if as_json:
            click.echo(MEMORY_AUDITS.encode(entry).decode())
            continue
        who = entry.provenance
        value = json.dumps(entry.value)[:80] if entry.op == "put" else "(deleted)"
        pii = f" pii={','.join(entry.pii)}" if entry.pii else ""
        click.echo(
            f"{entry.time.isoformat()}  {entry.op:<6} {entry.key}  rev={entry.revision}  "
            f"by {who.agent}@{who.version} wf={who.workflow_id or '-'} "
            f"decision={who.decision_id}{pii}  {value}"
        )


async def _read(settings: Settings, bank: str, key: str | None) -> list[MemoryAudit]:
    """The audit records of ``bank`` (or of one key), oldest first; junk is skipped and logged."""
    from longboat.gateway import MEMORY_AUDITS

    topic = TopicNames(settings.topic_prefix).memory_audit
    found: list[tuple[int, MemoryAudit]] = []
    prefix = f"{bank}/{key}" if key else f"{bank}/"
    async for item in read_decoded(settings.kafka, topic, MEMORY_AUDITS):
        wanted = item.key == prefix if key else item.key.startswith(prefix)
        if item.value is not None and wanted:
            found.append((item.record.timestamp_ms, item.value))
    return [entry for _, entry in sorted(found, key=lambda f: f[0])]
