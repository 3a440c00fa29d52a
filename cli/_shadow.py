"""``longboat shadow run | report``: a candidate version over real inputs vs production."""

from __future__ import annotations

import asyncio
import signal
from datetime import datetime
from pathlib import Path

import click

from longboat import TopicNames, configure_logging, load_settings_as
from longboat.agents import (
    AgentSettings,
    ShadowDecision,
    ShadowReport,
    ShadowWindow,
    load_agent,
    read_decisions,
    run_shadow,
    shadow_group,
    shadow_report,
    shadow_topic,
)
from longboat.cli._app import run_async
from longboat.errors import UsageError

__all__ = ["shadow"]


def _bound(value: str | None, option: str) -> int | datetime | None:
    """An input offset (an integer) or a start time (ISO 8601)."""
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise UsageError(
            f"{option} {value!r}: give an input offset (1842) or a time with its zone "
            "(2025-06-01T09:00+00:00)"
        )
    return when


def _window(start: str | None, end: str | None) -> ShadowWindow:
    low, high = _bound(start, "--from"), _bound(end, "--to")
    return ShadowWindow(
        from_offset=low if isinstance(low, int) else None,
        to_offset=high if isinstance(high, int) else None,
        since=low if isinstance(low, datetime) else None,
        until=high if isinstance(high, datetime) else None,
    )


def _line(d: ShadowDecision) -> str:
    where = f"{d.topic}/{d.partition}@{d.offset}"
    extra = f"  diverged at step {d.divergence_step}" if d.divergence_step else ""
    intents = f"  intents: {', '.join(d.intents)}" if d.intents else ""
    return f"{d.run_id}  {where}  {d.outcome}  outputs={len(d.outputs)}{extra}{intents}"


@click.group()
def shadow() -> None:
    """Shadow a candidate version over real inputs; compare it with production."""


@shadow.command(name="run")
@click.option("--agent", "spec", required=True, help="The candidate's code, as MODULE:ATTR.")
@click.option("--candidate-version", required=True, help="The version label to record.")
@click.option("--from", "start", help="First input offset, or earliest input time (ISO 8601).")
@click.option("--to", "end", help="Last input offset, or latest input time (ISO 8601).")
@click.option(
    "--llm", type=click.Choice(["live", "replay"]), default="replay", show_default=True,
    help="New LLM steps: run them (live) or refuse them (replay: recorded answers only).",
)  # fmt: skip
@click.option("--follow", is_flag=True, help="Keep following production until stopped (Ctrl-C).")
@click.option("--json", "as_json", is_flag=True, help="One JSON decision per line.")
def run_command(
    spec: str,
    candidate_version: str,
    start: str | None,
    end: str | None,
    llm: str,
    follow: bool,
    as_json: bool,
) -> None:
    """Run the candidate over the agent's input records: nothing executed, nothing written.

    It reads the input topics in its own consumer group, lb.shadow.<agent>.<version> (the
    production group is untouched), taking the records production has finished with.
    Production's recorded steps are served; new tool calls, memory writes and steps of the
    handler's own are recorded as intents, never executed. Outputs go to
    lb.shadow.<agent>.outputs, decisions to lb.shadow.<agent>.decisions. Without --from it
    continues where this version's shadow group stopped.
    """
    configure_logging(level="error")
    agent = load_agent(spec)
    settings = load_settings_as(AgentSettings)
    names = TopicNames(settings.topic_prefix)

    def show(decision: ShadowDecision) -> None:
        click.echo(decision.model_dump_json() if as_json else _line(decision))

    async def shadow_run() -> list[ShadowDecision]:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Stop after the batch in hand is recorded: its offsets commit with its decisions.
            loop.add_signal_handler(sig, stop.set)
        return await run_shadow(
            settings.kafka,
            names,
            agent,
            candidate_version=candidate_version,
            window=_window(start, end),
            llm="live" if llm == "live" else "replay",
            on_decision=show,
            follow=follow,
            stop=stop,
        )

    decisions = run_async(shadow_run())
    if not as_json:
        topic = shadow_topic(names, agent.name)
        group = shadow_group(names, agent.name, candidate_version)
        click.echo(f"{len(decisions)} run(s) shadowed in group {group}; decisions on {topic}")
        click.echo(f"compare: longboat shadow report {agent.name} -o report.json")


def _print(report: ShadowReport) -> None:
    for run in report.runs:
        click.echo(f"{'same   ' if run.clean else 'CHANGED'}  {run.run_id}  {run.input}")
        for d in run.decisions:
            if d.verdict != "same":
                click.echo(f"    {d.verdict:<8} {d.decision}: {d.production} -> {d.candidate}")
    s = report.summary
    click.echo(
        f"{len(report.runs)} run(s): same={s['same']} changed={s['changed']} new={s['new']} "
        f"missing={s['missing']} ({'clean' if report.clean else 'not clean'})"
    )


@shadow.command()
@click.argument("agent")
@click.option("--candidate-version", help="The candidate version (default: the latest shadow run).")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Also write it as JSON here.")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
def report(agent: str, candidate_version: str | None, output: Path | None, as_json: bool) -> None:
    """Compare AGENT's latest shadow run with production, decision by decision.

    Exit 0 when clean (every decision the same), 1 otherwise. The JSON file (-o) is what
    `longboat agents status NAME active --require-clean-shadow FILE` checks.
    """
    settings = load_settings_as(AgentSettings)
    names = TopicNames(settings.topic_prefix)

    async def build() -> ShadowReport:
        decisions = await read_decisions(
            settings.kafka, names, agent, candidate_version=candidate_version
        )
        if not decisions:
            raise UsageError(
                f"no shadow decisions of {agent} on {shadow_topic(names, agent)}: "
                "run `longboat shadow run` first"
            )
        return await shadow_report(settings.kafka, decisions)

    result = run_async(build())
    if output is not None:
        output.write_text(result.model_dump_json(indent=2) + "\n")
    if as_json:
        click.echo(result.model_dump_json())
    else:
        _print(result)
    if not result.clean:
        raise SystemExit(1)


def require_clean_shadow(path: Path, *, agent: str, version: str | None) -> None:
    """Refuse a promotion unless ``path`` is a clean shadow report of ``agent`` ``version``.

    Raises:
        UsageError: The file is unreadable or not a report, names another agent or version, or
            is not clean (each message says what to do).
    """
    from pydantic import ValidationError

    try:
        found = ShadowReport.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as e:
        raise UsageError(
            f"{path}: not a shadow report ({str(e).splitlines()[0]}); write one with "
            f"`longboat shadow report {agent} -o {path}`"
        ) from None
    if found.agent != agent:
        raise UsageError(f"{path}: a shadow report of {found.agent}, not of {agent}")
    if version is None or found.candidate_version != version:
        raise UsageError(
            f"{path}: the report is of candidate version {found.candidate_version}; promote "
            f"exactly that version (--version {found.candidate_version})"
        )
    if not found.clean:
        s = found.summary
        raise UsageError(
            f"{path}: the shadow report of {agent} {version} is not clean (changed={s['changed']} "
            f"new={s['new']} missing={s['missing']}): fix the candidate and shadow it again"
        )
