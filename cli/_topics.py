"""``longboat topics``: create the system topics."""

from __future__ import annotations

import re

import click

from longboat import Settings, TopicNames, TopicSpec
from longboat.cli._app import run_async, settings_from
from longboat.errors import UsageError
from longboat.kafka import Admin, TopicOutcome

__all__ = ["topics"]

_TOPIC_NAME = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")


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
@click.option(
    "--topic",
    "extra",
    multiple=True,
    metavar="NAME[:PARTITIONS]",
    help="Also create this input topic (e.g. claims.submitted:6); delete cleanup.",
)
@click.option("--replication-factor", type=click.IntRange(1, 32), help="Default: min(3, brokers).")
@click.pass_context
def create(
    ctx: click.Context,
    partitions: int | None,
    agents: tuple[str, ...],
    extra: tuple[str, ...],
    replication_factor: int | None,
) -> None:
    """Create every system topic (the coordinator's included) not there yet; safe to rerun."""
    settings = settings_from(ctx)
    names = TopicNames(settings.topic_prefix)
    specs = names.system_topics(partitions=partitions)
    specs += names.coordinator_topics(partitions=partitions)
    for agent in agents:
        specs += names.agent_topics(agent, partitions=partitions)
    specs += [_input_topic(text, partitions) for text in extra]
    # One request must not name a topic twice (e.g. --agent coordinator): keep the first.
    unique: dict[str, TopicSpec] = {}
    for spec in specs:
        unique.setdefault(spec.name, spec)
    specs = list(unique.values())
    outcomes = run_async(_ensure(settings, specs, replication_factor))
    for spec in specs:
        policy = spec.config.get("cleanup.policy", "delete")
        click.echo(
            f"{outcomes[spec.name]:<8} {spec.name:<40} "
            f"partitions={spec.partitions} cleanup={policy}"
        )


def _input_topic(text: str, partitions: int | None) -> TopicSpec:
    name, _, count = text.partition(":")
    if not _TOPIC_NAME.match(name):
        raise UsageError(
            f"--topic {text!r}: a topic name is 1-249 letters, digits, '.', '_' or '-'"
        )
    if count and not (count.isdigit() and int(count) >= 1):
        raise UsageError(f"--topic {text!r}: partitions must be a whole number >= 1")
    return TopicSpec(name, int(count) if count else (partitions or 6), {"cleanup.policy": "delete"})


async def _ensure(
    settings: Settings, specs: list[TopicSpec], replication_factor: int | None
) -> dict[str, TopicOutcome]:
    async with Admin(settings.kafka) as admin:
        return await admin.ensure_topics(specs, replication_factor=replication_factor)
