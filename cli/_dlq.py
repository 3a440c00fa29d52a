"""``longboat dlq``: inspect and replay an agent's dead letters."""

from __future__ import annotations

import json

import click

from longboat import TopicNames
from longboat.cli._app import run_async, settings_from
from longboat.errors import UsageError

__all__ = ["dlq"]


@click.group()
def dlq() -> None:
    """Dead letters: records an agent could not process, and why."""


@dlq.command("list")
@click.argument("agent")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per dead letter.")
@click.option(
    "--all", "include_replayed", is_flag=True, help="Include dead letters already replayed."
)
@click.pass_context
def list_command(ctx: click.Context, agent: str, as_json: bool, include_replayed: bool) -> None:
    """List AGENT's dead letters: id, where the record was, the error and attempts."""
    from longboat.agents import list_dead_letters

    settings = settings_from(ctx)
    topic = TopicNames(settings.topic_prefix).dlq(agent)
    entries = run_async(list_dead_letters(settings.kafka, topic))
    for entry in entries:
        if entry.replayed and not include_replayed:
            continue
        letter = entry.letter
        if as_json:
            body = {
                "id": entry.id,
                "time": entry.time.isoformat(),
                "replayed": entry.replayed,
                **letter.model_dump(mode="json"),
            }
            click.echo(json.dumps(body))
        else:
            where = f"{letter.topic}/{letter.partition}@{letter.offset}"
            mark = " (replayed)" if entry.replayed else ""
            click.echo(
                f"{entry.id}  {where}  {letter.error_type}  attempts={letter.attempts}"
                f"  {letter.message[:120]}{mark}"
            )


@dlq.command("replay")
@click.argument("agent")
@click.option("--id", "ids", multiple=True, help="A dead letter id (from `dlq list`); repeatable.")
@click.option("--all", "replay_all", is_flag=True, help="Every dead letter not replayed yet.")
@click.pass_context
def replay_command(ctx: click.Context, agent: str, ids: tuple[str, ...], replay_all: bool) -> None:
    """Put dead letters back on their original topic (atomically marked as replayed)."""
    from longboat.agents import replay_dead_letters

    if bool(ids) == replay_all:
        raise UsageError("give either --id ID (one or more) or --all")
    settings = settings_from(ctx)
    topic = TopicNames(settings.topic_prefix).dlq(agent)
    done = run_async(
        replay_dead_letters(settings.kafka, topic, ids=None if replay_all else set(ids))
    )
    for entry in done:
        click.echo(f"replayed {entry.id} -> {entry.letter.topic}")
    if not done:
        click.echo("nothing to replay")
