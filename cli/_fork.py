"""``longboat fork``: re-run a finished run on the deployed code, reusing its steps before N."""

from __future__ import annotations

import click

from longboat import TopicNames, configure_logging, load_settings_as
from longboat.agents import Agent, AgentSettings, ForkReport, fork_run, load_agent, load_trace
from longboat.cli._app import run_async

__all__ = ["fork"]


@click.command()
@click.argument("run_id")
@click.option("--agent", "spec", required=True, help="The deployed (fixed) code, as MODULE:ATTR.")
@click.option(
    "--from-step", type=click.IntRange(min=1),
    help="The first step to run anew (default: the first the new code cannot reuse).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
def fork(run_id: str, spec: str, from_step: int | None, as_json: bool) -> None:
    """Fork RUN_ID: steps before N return their recorded results, the rest run for real.

    The fork is a new run with its own id and fresh idempotency keys from step N on; its trace
    names its parent and the parent's trace lists it. Its outputs are written in one
    transaction. Tools and memory go through the gateway when LONGBOAT_AGENT__KEY_FILE is set.
    """
    # The fork's own run logs (a dead letter it writes) are reported below, once.
    configure_logging(level="error")
    agent = load_agent(spec)
    settings = load_settings_as(AgentSettings)
    report = run_async(_fork(agent, settings, run_id, from_step))
    if as_json:
        click.echo(report.model_dump_json())
        return
    click.echo(f"forked run {report.parent} as {report.fork_id} from step {report.from_step}")
    click.echo(f"  {report.reused} step(s) reused from the parent, {report.executed} run anew")
    click.echo(f"  outcome: {report.outcome}, {report.outputs} output record(s) committed")
    click.echo(f"  see it with `longboat trace {report.fork_id}`")


async def _fork(
    agent: Agent, settings: AgentSettings, run_id: str, from_step: int | None
) -> ForkReport:
    parent = await load_trace(settings.kafka, TopicNames(settings.topic_prefix), run_id)
    return await fork_run(agent, parent, settings=settings, from_step=from_step)
