"""``longboat memory audit``: how a memory changed, and who changed it."""

from __future__ import annotations

import json

import click

from longboat import Settings, TopicNames
from longboat.cli._app import run_async, settings_from
from longboat.kafka import read_to_end

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
    from longboat.gateway import MemoryAudit

    settings = settings_from(ctx)
    for raw in run_async(_read(settings, bank, key)):
        entry = MemoryAudit.model_validate_json(raw)
        if as_json:
            click.echo(entry.model_dump_json())
            continue
        who = entry.provenance
        value = json.dumps(entry.value)[:80] if entry.op == "put" else "(deleted)"
        pii = f" pii={','.join(entry.pii)}" if entry.pii else ""
        click.echo(
            f"{entry.time.isoformat()}  {entry.op:<6} {entry.key}  rev={entry.revision}  "
            f"by {who.agent}@{who.version} wf={who.workflow_id or '-'} "
            f"decision={who.decision_id}{pii}  {value}"
        )


async def _read(settings: Settings, bank: str, key: str | None) -> list[bytes]:
    topic = TopicNames(settings.topic_prefix).memory_audit
    found: list[tuple[int, bytes]] = []
    prefix = f"{bank}/{key}" if key else f"{bank}/"
    async for record in read_to_end(settings.kafka, topic):
        record_key = (record.key or b"").decode()
        if record.value and (record_key == prefix if key else record_key.startswith(prefix)):
            found.append((record.timestamp_ms, record.value))
    return [value for _, value in sorted(found, key=lambda f: f[0])]
