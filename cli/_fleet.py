"""``longboat fleet``: validate a fleet file, print its schema, run a fleet on this machine."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["fleet"]

_FILE = click.Path(dir_okay=False, path_type=Path)


@click.group()
def fleet() -> None:
    """A whole fleet from one YAML file (docs/fleet.md): validate, up, status, logs, down."""


@fleet.command()
@click.option("-f", "--file", "file", type=_FILE, required=True, help="The fleet file.")
def validate(file: Path) -> None:
    """Check FILE: every problem names the file, the field and the fix (exit 2)."""
    from longboat.fleet import load_fleet

    loaded = load_fleet(file)
    replicas = sum(agent.replicas for agent in loaded.agents)
    click.echo(
        f"ok  {file}: fleet {loaded.name}, {len(loaded.agents)} agents ({replicas} instances), "
        f"{len(loaded.tools)} tools, {len(loaded.workflows)} workflow paths"
    )


@fleet.command()
def schema() -> None:
    """Print the fleet file's JSON schema (= helm/longboat/values.schema.json)."""
    from longboat.fleet import fleet_schema

    click.echo(fleet_schema(), nl=False)
