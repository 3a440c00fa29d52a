"""``longboat workflows``: workflow definitions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import click

from longboat import Settings
from longboat.cli._app import run_async, settings_from
from longboat.errors import ConfigError, UsageError

__all__ = ["history", "inbox", "workflows"]


def _api(settings: Settings, path: str) -> Any:
    async def call() -> Any:
        url = settings.coordinator_url.rstrip("/") + path
        try:
            timeout = aiohttp.ClientTimeout(total=15)
            async with aiohttp.ClientSession(timeout=timeout) as http, http.get(url) as response:
                body = await response.json(content_type=None)
                if response.status == 404:
                    raise UsageError(f"no such workflow at {settings.coordinator_url}")
                return body
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            raise UsageError(
                f"the coordinator at {settings.coordinator_url} did not answer: {e}"
            ) from e

    return run_async(call())


def _line(w: dict[str, Any]) -> str:
    waiting = w.get("waiting_for")
    extra = f"  waiting: {waiting['step']} ({waiting['prompt']})" if waiting else ""
    reason = f"  reason: {w['reason']}" if w.get("reason") else ""
    name = f"{w['definition']}@{w['version']}"
    return f"{w['workflow_id']:<28} {name:<20} {w['status']:<17}{extra}{reason}"


@click.group(invoke_without_command=True)
@click.option("--status", help="Only workflows with this status (running, waiting_approval, ...).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def workflows(ctx: click.Context, status: str | None, as_json: bool) -> None:
    """List workflows (from the coordinator), or validate definitions."""
    if ctx.invoked_subcommand is not None:
        return
    query = f"?status={status}" if status else ""
    for item in _api(settings_from(ctx), "/v1/workflows" + query)["workflows"]:
        click.echo(json.dumps(item) if as_json else _line(item))


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def inbox(ctx: click.Context, as_json: bool) -> None:
    """Mission Control: what needs your input, what failed, what completed."""
    body = _api(settings_from(ctx), "/v1/inbox")
    if as_json:
        click.echo(json.dumps(body))
        return
    for title, key in (
        ("Needs your input", "needs_input"),
        ("Errors", "errors"),
        ("Completed", "completed"),
    ):
        click.echo(f"{title} ({len(body[key])})")
        for item in body[key]:
            click.echo("  " + _line(item))


@click.command()
@click.argument("workflow_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def history(ctx: click.Context, workflow_id: str, as_json: bool) -> None:
    """The event-sourced history of WORKFLOW_ID."""
    entries = _api(settings_from(ctx), f"/v1/workflows/{workflow_id}/history")["history"]
    for entry in entries:
        if as_json:
            click.echo(json.dumps(entry))
        else:
            details = {k: v for k, v in entry.items() if k not in ("time", "type")}
            click.echo(
                f"{entry['time']}  {entry['type']:<24} {json.dumps(details) if details else ''}"
            )
    if not entries and not as_json:
        click.echo(f"no history for {workflow_id}")


@workflows.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def validate(files: tuple[Path, ...]) -> None:
    """Check FILES (or every *.yaml in folders): each problem names the file, field and fix."""
    from longboat.coordinator import DefinitionSet, load_definition

    paths: list[Path] = []
    for item in files:
        paths += sorted([*item.rglob("*.yaml"), *item.rglob("*.yml")]) if item.is_dir() else [item]
    problems: list[str] = []
    loaded = []
    for path in paths:
        try:
            definition = load_definition(path)
        except ConfigError as e:
            problems.append(str(e))
            continue
        loaded.append(definition)
        steps = len(definition.step_ids())
        click.echo(f"ok  {path}: {definition.name} v{definition.version}, {steps} steps")
    try:
        DefinitionSet(loaded)
    except ConfigError as e:
        problems.append(str(e))
    if problems:
        raise ConfigError("\n".join(problems))
