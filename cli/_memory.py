"""``longboat memory audit`` and ``drift``: how memories changed, and who changed them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
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


@memory.command()
@click.argument("bank")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="Only changes from this UTC time on (default: all).",
)
@click.option(
    "--flag-at",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Flag a workflow rewriting or deleting this many memories.",
)
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
@click.pass_context
def drift(
    ctx: click.Context, bank: str, since: datetime | None, flag_at: int, as_json: bool
) -> None:
    """What changed in BANK over a window: by agent version, by policy digest, and flags."""
    from longboat.cli._drift import drift_report

    start = since.replace(tzinfo=UTC) if since else None
    audits = run_async(_read(settings_from(ctx), bank, None))
    report = drift_report(bank, audits, since=start, flag_at=flag_at)
    if as_json:
        click.echo(report.model_dump_json())
        return
    click.echo(
        f"{bank}: {report.changes} changes since {start.isoformat() if start else 'the start'} "
        f"({report.added} added, {report.updated} updated, {report.deleted} deleted)"
    )
    for writer, count in report.by_writer.items():
        click.echo(f"  written by {writer}: {count}")
    for digest, count in report.by_policy.items():
        click.echo(f"  under policy {digest[:19]}: {count}")
    for flag in report.flags:
        click.echo(f"  FLAG {flag.source}: {flag.reason}")


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
