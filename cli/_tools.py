"""``longboat tools``: the catalogue of MCP tool definitions, and their approval."""

from __future__ import annotations

import json

import click

from longboat import TopicNames
from longboat.cli._app import run_async, settings_from
from longboat.errors import UsageError

__all__ = ["tools"]


@click.group()
def tools() -> None:
    """MCP tools behind the gateway: list discovered definitions, approve one (docs/tools.md)."""


@tools.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """Every discovered definition: name, digest, status, annotations."""
    from longboat.gateway import read_catalogue

    settings = settings_from(ctx)
    entries = run_async(read_catalogue(settings.kafka, TopicNames(settings.topic_prefix)))
    for entry in entries:
        d = entry.definition
        if as_json:
            click.echo(json.dumps(entry.model_dump(mode="json")))
        else:
            hints = ",".join(k for k, v in d.hints.model_dump().items() if v) or "-"
            click.echo(f"{entry.status:<9} {d.name:<32} {d.digest}  {hints}  {d.description[:60]}")


@tools.command()
@click.argument("name")
@click.argument("digest")
@click.option("--operator", required=True, help="who approves (kept with the approval)")
@click.pass_context
def approve(ctx: click.Context, name: str, digest: str, operator: str) -> None:
    """Approve the definition NAME (server.tool) with DIGEST, as shown by `tools list`."""
    from longboat.gateway import approve_tool

    settings = settings_from(ctx)
    names = TopicNames(settings.topic_prefix)
    try:
        run_async(approve_tool(settings.kafka, names, name, digest, operator=operator))
    except LookupError as e:
        raise UsageError(f"{e} (see `longboat tools list`)") from e
    click.echo(f"approved {name} {digest}")
