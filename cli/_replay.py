"""``longboat replay``: re-run a handler against a recorded run, offline, and report divergence.

Exit codes: 0 when the replay is clean, 1 when the new code diverges from the recording (a
``--check`` run fails if any trace diverges), 2 for a usage error (bad file, bad agent).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from longboat import TopicNames, configure_logging
from longboat.agents import Agent, ReplayReport, Trace, load_agent, load_trace, read_trace
from longboat.agents import replay_trace as run_replay
from longboat.cli._app import run_async, settings_from
from longboat.errors import UsageError

__all__ = ["replay"]

EXIT_DIVERGED = 1


@click.command()
@click.argument("source", required=False)
@click.option(
    "--agent", "specs", multiple=True, required=True,
    help="The new code, as MODULE:ATTR (repeatable with --check: chosen by agent name).",
)  # fmt: skip
@click.option("--live", is_flag=True, help="Run steps the trace cannot serve, instead of stopping.")
@click.option("--allow-tools", is_flag=True, help="Let a live replay call tools (not advised).")
@click.option("--allow-memory-writes", is_flag=True, help="Let a live replay write memory.")
@click.option(
    "--check", "check_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Replay every *.jsonl trace in this folder; exit 1 if any diverges (for CI).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="The report(s) as JSON.")
@click.pass_context
def replay(
    ctx: click.Context,
    source: str | None,
    specs: tuple[str, ...],
    live: bool,
    allow_tools: bool,
    allow_memory_writes: bool,
    check_dir: Path | None,
    as_json: bool,
) -> None:
    """Replay SOURCE (a trace file, or a run id on the cluster) against the new code.

    Every recorded step returns its recorded result: no broker is needed for a file, nothing
    is written, no tool is called, no token is spent. The report names the first divergence
    (step, fingerprints, the arguments that changed) and the step the new code would run next.
    """
    # A replay's own run logs (dead letters it would write) would read like real ones.
    configure_logging(level="error")
    agents = _agents(specs)
    if check_dir is not None:
        if source is not None or live:
            raise UsageError(
                "--check DIR replays saved traces offline: give no SOURCE and no --live"
            )
        sys.exit(_check(check_dir, agents, as_json))
    if source is None:
        raise UsageError("give a trace file or a run id to replay (or --check DIR)")
    recorded = _source(ctx, source)
    report = run_async(
        run_replay(
            _agent_for(agents, recorded),
            recorded,
            live=live,
            allow_tools=allow_tools,
            allow_memory_writes=allow_memory_writes,
        )
    )
    _print(report, recorded, as_json)
    sys.exit(0 if report.divergence is None else EXIT_DIVERGED)


def _agents(specs: tuple[str, ...]) -> dict[str, Agent]:
    loaded = [load_agent(spec) for spec in specs]
    return {agent.name: agent for agent in loaded}


def _agent_for(agents: dict[str, Agent], recorded: Trace) -> Agent:
    name = recorded.header.agent
    if name in agents:
        return agents[name]
    if len(agents) == 1:
        return next(iter(agents.values()))  # a renamed agent may be checked against old traces
    raise UsageError(f"run {recorded.header.run_id} is agent {name}'s: pass --agent for it")


def _source(ctx: click.Context, source: str) -> Trace:
    path = Path(source)
    if path.exists() or source.endswith(".jsonl"):
        return read_trace(path)
    settings = settings_from(ctx)
    return run_async(load_trace(settings.kafka, TopicNames(settings.topic_prefix), source))


def _check(folder: Path, agents: dict[str, Agent], as_json: bool) -> int:
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise UsageError(f"{folder}: no *.jsonl traces (write them with `longboat trace export`)")
    failed = 0
    for path in files:
        recorded = read_trace(path)
        report = run_async(run_replay(_agent_for(agents, recorded), recorded))
        ok = report.clean
        failed += 0 if ok else 1
        if as_json:
            click.echo(
                json.dumps({"file": str(path), "clean": ok, **report.model_dump(mode="json")})
            )
        else:
            click.echo(f"{'ok  ' if ok else 'FAIL'}  {path.name}  {_headline(report)}")
    if not as_json:
        click.echo(f"{len(files) - failed} clean, {failed} diverged")
    return EXIT_DIVERGED if failed else 0


def _headline(report: ReplayReport) -> str:
    if report.divergence is not None:
        d = report.divergence
        return f"diverged at step {d.step} ({d.recorded_name} -> {d.new_name})"
    if report.next_step is not None and report.next_step.reason == "beyond_trace":
        return f"needs step {report.next_step.step} ({report.next_step.name}), never recorded"
    return f"{report.served} steps served, {report.outcome}"


def _print(report: ReplayReport, recorded: Trace, as_json: bool) -> None:
    if as_json:
        click.echo(report.model_dump_json())
        return
    click.echo(f"replayed run {report.run_id} of {recorded.header.agent} against {report.agent}")
    click.echo(f"  {report.served} step(s) served from the trace, {report.executed} run live")
    d = report.divergence
    if d is not None:
        click.echo(f"  DIVERGED at step {d.step}: recorded {d.recorded_name}, now {d.new_name}")
        click.echo(f"    fingerprint recorded {d.recorded_fingerprint}")
        click.echo(f"    fingerprint now      {d.new_fingerprint}")
        if not d.args_recorded:
            click.echo("    (the recorded arguments were too large to journal)")
        for change in d.changes:
            click.echo(
                f"    {change.path}: {json.dumps(change.recorded)} -> {json.dumps(change.new)}"
            )
    else:
        click.echo("  no divergence")
    nxt = report.next_step
    if nxt is not None:
        why = {
            "diverged": "after the divergence",
            "beyond_trace": "never recorded",
            "recorded_failed": "it failed in the recording",
            "recorded_in_doubt": "it never completed in the recording",
        }[nxt.reason]
        click.echo(f"  next: step {nxt.step} {nxt.name} ({why}), args {json.dumps(nxt.args)}")
        click.echo("  stopped before it (pass --live to run it)")
    else:
        click.echo(f"  outcome: {report.outcome}" + (f": {report.error}" if report.error else ""))
        if report.value is not None:
            click.echo(f"  returned {json.dumps(report.value)}")
        for out in report.emitted:
            click.echo(f"  would emit {out.type} to {out.topic}: {json.dumps(out.data)}")
    for intent in report.refused:
        click.echo(f"  refused {intent}")
