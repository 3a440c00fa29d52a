"""``longboat topics``: create the system topics."""

from __future__ import annotations

import click

from longboat._settings import Settings
from longboat._topics import TopicNames, TopicSpec
from longboat.cli._app import run_async, settings_from
from longboat.kafka import Admin, TopicOutcome

__all__ = ["topics"]


@click.group()
def topics() -> None:
    """Manage Longboat's Kafka topics."""


@topics.command()
@click.option(
    "--partitions",
    type=click.IntRange(1, 10_000),
    help="Partition count for every topic (default: per-topic defaults, e.g. 12 for results).",
)
@click.option(
    "--agent",
    "agents",
    multiple=True,
    help="Also create this agent's tasks, journal and DLQ topics.",
)
@click.option("--replication-factor", type=click.IntRange(1, 32), help="Default: min(3, brokers).")
@click.pass_context
def create(
    ctx: click.Context,
    partitions: int | None,
    agents: tuple[str, ...],
    replication_factor: int | None,
) -> None:
    """Create every system topic that does not exist yet (safe to run again)."""
    settings = settings_from(ctx)
    names = TopicNames(settings.topic_prefix)
    specs = names.system_topics(partitions=partitions)
    for agent in agents:
        specs += names.agent_topics(agent, partitions=partitions)
    outcomes = run_async(_ensure(settings, specs, replication_factor))
    for spec in specs:
        policy = spec.config.get("cleanup.policy", "delete")
        click.echo(
            f"{outcomes[spec.name]:<8} {spec.name:<40} "
            f"partitions={spec.partitions} cleanup={policy}"
        )


async def _ensure(
    settings: Settings, specs: list[TopicSpec], replication_factor: int | None
) -> dict[str, TopicOutcome]:
    async with Admin(settings.kafka) as admin:
        return await admin.ensure_topics(specs, replication_factor=replication_factor)
