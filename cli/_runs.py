"""``longboat runs`` and ``longboat trace``: see an agent's runs and one run's every step."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from pydantic import JsonValue

from longboat import TopicNames
from longboat.agents import Trace, TraceStep, list_runs, load_trace, write_trace
from longboat.cli._app import run_async, settings_from
from longboat.errors import UsageError

__all__ = ["runs", "trace"]

_SHOWN = 200  # characters of an argument or result in the human-readable view


def _short(value: JsonValue) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


@click.command()
@click.argument("agent")
@click.option(
    "--status",
    type=click.Choice(["completed", "dead-lettered", "in-flight"]),
    help="Only runs that ended so (in-flight: started, not completed).",
)
@click.option("--workflow", "workflow_id", help="Only runs of this workflow id.")
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]),
    help="Only runs started at or after this time (UTC unless an offset is given).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per run.")
@click.pass_context
def runs(
    ctx: click.Context,
    agent: str,
    status: str | None,
    workflow_id: str | None,
    since: datetime | None,
    as_json: bool,
) -> None:
    """List AGENT's runs: id, input coordinates, outcome, steps and times."""
    settings = settings_from(ctx)
    names = TopicNames(settings.topic_prefix)
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    outcome: Any = status.replace("-", "_") if status else None
    found = run_async(
        list_runs(
            settings.kafka, names, agent, status=outcome, workflow_id=workflow_id, since=since
        )
    )
    for run in found:
        if as_json:
            body = {
                "run_id": run.run_id,
                "agent": run.agent,
                "topic": run.topic,
                "partition": run.partition,
                "offset": run.offset,
                "workflow_id": run.workflow_id,
                "outcome": run.outcome,
                "steps": run.steps,
                "started": run.started.isoformat() if run.started else None,
                "ended": run.ended.isoformat() if run.ended else None,
                "error": run.error,
            }
            click.echo(json.dumps(body))
            continue
        when = run.started.isoformat(timespec="seconds") if run.started else "-"
        where = f"{run.topic}/{run.partition}@{run.offset}"
        error = f"  {run.error[:100]}" if run.error else ""
        click.echo(
            f"{run.run_id}  {when}  {where}  {run.outcome}  steps={run.steps}"
            f"  workflow={run.workflow_id or '-'}{error}"
        )
    if not found and not as_json:
        click.echo(f"no runs of {agent} match")


class _TraceGroup(click.Group):
    """``trace RUN_ID`` shows a run; ``trace export RUN_ID -o FILE`` writes it."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            return "show", self.commands["show"], args
        return super().resolve_command(ctx, args)


@click.group(cls=_TraceGroup)
def trace() -> None:
    """One run's steps: `longboat trace RUN_ID [--json]`, `longboat trace export RUN_ID -o F`."""


def _load(ctx: click.Context, run_id: str, agent: str | None) -> Trace:
    settings = settings_from(ctx)
    return run_async(
        load_trace(settings.kafka, TopicNames(settings.topic_prefix), run_id, agent=agent)
    )


@trace.command("show")
@click.argument("run_id")
@click.option("--agent", help="The run's agent (default: search every journal).")
@click.option("--json", "as_json", is_flag=True, help="The trace as one JSON object.")
@click.pass_context
def show_command(ctx: click.Context, run_id: str, agent: str | None, as_json: bool) -> None:
    """Show RUN_ID's input, outcome and every step."""
    found = _load(ctx, run_id, agent)
    if as_json:
        click.echo(found.model_dump_json(exclude_none=True))
        return
    for line in describe_trace(found):
        click.echo(line)


def describe_trace(found: Trace) -> list[str]:
    """The human-readable view of a trace."""
    h = found.header
    lines = [
        f"run {h.run_id}  agent {h.agent} {h.version or ''}".rstrip(),
        f"  input     {h.topic}/{h.partition}@{h.offset}"
        + (f"  {h.event.type} {h.event.id}" if h.event else "  (input record no longer on topic)"),
        f"  outcome   {h.outcome}" + (f": {h.error}" if h.error else ""),
        f"  workflow  {h.workflow_id or '-'}",
        f"  time      {h.started.isoformat() if h.started else '-'}"
        f" .. {h.ended.isoformat() if h.ended else '-'}",
    ]
    if h.forked_from:
        lines.append(f"  forked from {h.forked_from} at step {h.fork_from_step}")
    lines.extend(f"  forked as {fork}" for fork in found.forks)
    for step in found.steps:
        lines.extend(_describe_step(step))
    return lines


def _describe_step(step: TraceStep) -> list[str]:
    extra = [f"attempts={step.attempts}"]
    if step.duration_ms is not None:
        extra.append(f"{step.duration_ms:.1f}ms")
    if step.tokens is not None:
        extra.append(f"tokens={step.tokens}")
    if step.decision_id:
        extra.append(f"decision={step.decision_id}")
    extra.append(f"fp={step.fingerprint[:16]}")
    lines = [f"{step.index:>3}. {step.name}  {step.status}  {' '.join(extra)}"]
    args = _short(step.args) if step.args_recorded else "(too large to journal)"
    lines.append(f"       args    {args}")
    if step.error:
        lines.append(f"       error   {step.error[:_SHOWN]}")
    elif step.status == "completed":
        lines.append(f"       result  {_short(step.result)}")
    return lines


@trace.command("export")
@click.argument("run_id")
@click.option("--agent", help="The run's agent (default: search every journal).")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
    help="The trace file to write (JSON Lines).",
)  # fmt: skip
@click.pass_context
def export_command(ctx: click.Context, run_id: str, agent: str | None, output: Path) -> None:
    """Write RUN_ID's trace, input event included, to a self-contained JSONL file."""
    found = _load(ctx, run_id, agent)
    try:
        write_trace(found, output)
    except OSError as e:
        raise UsageError(f"{output}: cannot write the trace: {e.strerror or e}") from e
    click.echo(f"wrote {output}: run {run_id}, {len(found.steps)} steps, {found.header.outcome}")
