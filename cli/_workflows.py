"""``longboat workflows``: workflow definitions."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click

from longboat import Settings
from longboat.cli._app import run_async, settings_from
from longboat.cli._signals import send_signal, signer
from longboat.coordinator import (
    CoordinatorClient,
    CoordinatorRefused,
    CoordinatorUnavailable,
    SignalData,
    WorkflowSummary,
)
from longboat.errors import ConfigError, UsageError

__all__ = ["history", "inbox", "workflows"]

T = TypeVar("T")


def _call(settings: Settings, call: Callable[[CoordinatorClient], Awaitable[T]]) -> T:
    """One call through the coordinator's typed client (its errors are one line, exit 2)."""

    async def run() -> T:
        token = settings.operator_token
        secret = token.get_secret_value() if token is not None else None
        async with CoordinatorClient(
            settings.coordinator_url, operator_token=secret
        ) as coordinator:
            return await call(coordinator)

    try:
        return run_async(run())
    except CoordinatorRefused as e:
        if e.error == "not_found":
            raise UsageError(f"no such workflow at {settings.coordinator_url}") from e
        raise
    except CoordinatorUnavailable as e:
        raise UsageError(str(e)) from e


def _line(w: WorkflowSummary) -> str:
    waiting = w.waiting_for
    extra = f"  waiting: {waiting.step} ({waiting.prompt})" if waiting else ""
    reason = f"  reason: {w.reason}" if w.reason else ""
    name = f"{w.definition}@{w.version}"
    return f"{w.workflow_id:<28} {name:<20} {w.status:<17}{extra}{reason}"


@click.group(invoke_without_command=True)
@click.option("--status", help="Only workflows with this status (running, waiting_approval, ...).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def workflows(ctx: click.Context, status: str | None, as_json: bool) -> None:
    """List workflows (from the coordinator), or validate definitions."""
    if ctx.invoked_subcommand is not None:
        return
    for item in _call(settings_from(ctx), lambda c: c.workflows(status=status)):
        click.echo(item.model_dump_json() if as_json else _line(item))


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def inbox(ctx: click.Context, as_json: bool) -> None:
    """Mission Control: what needs your input, what failed, what completed."""
    body = _call(settings_from(ctx), lambda c: c.inbox())
    if as_json:
        click.echo(body.model_dump_json())
        return
    for title, items in (
        ("Needs your input", body.needs_input),
        ("Errors", body.errors),
        ("Completed", body.completed),
    ):
        click.echo(f"{title} ({len(items)})")
        for item in items:
            click.echo("  " + _line(item))


@click.command()
@click.argument("workflow_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def history(ctx: click.Context, workflow_id: str, as_json: bool) -> None:
    """The event-sourced history of WORKFLOW_ID."""
    entries = _call(settings_from(ctx), lambda c: c.history(workflow_id))
    for entry in entries:
        if as_json:
            click.echo(entry.model_dump_json())
        else:
            details = json.dumps(entry.data) if entry.data else ""
            click.echo(f"{entry.time}  {entry.type:<24} {details}")
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


@workflows.command()
@click.argument("workflow_id")
@click.option("--from-step", "from_step", required=True, help="The step to run again from.")
@click.option(
    "--version",
    type=click.IntRange(min=1),
    help="The definition version to continue on (default: the workflow's own).",
)
@click.option("--note", help="Why (recorded in the workflow's history).")
@click.option("--by", help="Who resumes it (default: the current user).")
@click.pass_context
def resume(
    ctx: click.Context,
    workflow_id: str,
    from_step: str,
    version: int | None,
    note: str | None,
    by: str | None,
) -> None:
    """Resume failed or cancelled WORKFLOW_ID from a step, maybe on a new definition version.

    Steps before --from-step keep their results; it and later steps run again with new task ids.
    The coordinator checks the rest: `longboat history WORKFLOW_ID` shows WorkflowResumed, or
    ResumeRefused with the reason.
    """
    who = signer(by)
    data = SignalData(signal="resume", by=who, note=note, from_step=from_step, version=version)
    signal_id = send_signal(ctx, workflow_id, data)
    on = f" on version {version}" if version is not None else ""
    click.echo(
        f"resume sent for {workflow_id} from step {from_step}{on} by {who} (signal {signal_id}); "
        f"see `longboat history {workflow_id}`"
    )
