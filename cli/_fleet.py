"""``longboat fleet``: validate a fleet file, print its schema, run a fleet on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from longboat.errors import UsageError

if TYPE_CHECKING:
    from longboat.fleet import FleetPaths

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
    # A canary is a second version of an agent, not another agent.
    canaries = sum(1 for agent in loaded.agents if agent.status == "canary")
    beside = f" + {canaries} canary" if canaries else ""
    click.echo(
        f"ok  {file}: fleet {loaded.name}, {len(loaded.agents) - canaries} agents{beside} "
        f"({replicas} instances), {len(loaded.tools)} tools, {len(loaded.workflows)} workflow paths"
    )


@fleet.command()
def schema() -> None:
    """Print the fleet file's JSON schema (= helm/longboat/values.schema.json)."""
    from longboat.fleet import fleet_schema

    click.echo(fleet_schema(), nl=False)


def _home(ctx: click.Context) -> Path:
    from longboat.cli._app import settings_from

    return settings_from(ctx).dev_home


def _paths(ctx: click.Context, file: Path | None, name: str | None) -> FleetPaths:
    from longboat.fleet import FleetPaths, load_fleet

    if name is None:
        if file is None:
            raise UsageError("name the fleet: -f FLEET_FILE or --name NAME")
        name = load_fleet(file).name
    return FleetPaths(_home(ctx), name)


@fleet.command()
@click.option("-f", "--file", "file", type=_FILE, required=True, help="The fleet file.")
@click.option("--detach", is_flag=True, help="Supervise in the background; return when ready.")
@click.pass_context
def up(ctx: click.Context, file: Path, detach: bool) -> None:
    """Start the fleet: topics, registry, gateways + OPA, coordinator, agents; supervise them.

    In the foreground Ctrl-C stops everything cleanly; with --detach `longboat fleet down`
    does.
    """
    from longboat.fleet import FleetPaths, FleetSupervisor, load_fleet

    loaded = load_fleet(file)
    if detach:
        _detach(file, FleetPaths(_home(ctx), loaded.name))
        return
    FleetSupervisor(loaded, file, home=_home(ctx), say=lambda line: click.echo(line)).run()


def _detach(file: Path, paths: FleetPaths) -> None:
    from longboat.fleet import detach_supervisor

    state = detach_supervisor(file, paths, say=lambda line: click.echo(line))
    click.echo(f"fleet {state.name} is ready; supervisor pid {state.supervisor_pid}")


@fleet.command()
@click.option("-f", "--file", "file", type=_FILE, help="The fleet file.")
@click.option("--name", help="The fleet's name (instead of -f).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per process.")
@click.pass_context
def status(ctx: click.Context, file: Path | None, name: str | None, as_json: bool) -> None:
    """Each process: component, instance, pid, health, version, lag, last heartbeat, restarts."""
    from longboat.fleet import fleet_status, read_state

    paths = _paths(ctx, file, name)
    state = read_state(paths)
    if state is None:
        raise UsageError(f"fleet {paths.dir.name} is not running here (`longboat fleet up`)")
    rows = fleet_status(state)
    if as_json:
        for row in rows:
            click.echo(row.model_dump_json())
        return
    click.echo(f"fleet {state.name}: {state.phase}  (kafka {state.bootstrap_servers})")
    header = ("COMPONENT", "INSTANCE", "PID", "HEALTH", "VERSION", "LAG", "HEARTBEAT", "RESTARTS")
    lines = [header] + [row.cells() for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


@fleet.command()
@click.option("-f", "--file", "file", type=_FILE, help="The fleet file.")
@click.option("--name", help="The fleet's name (instead of -f).")
@click.pass_context
def down(ctx: click.Context, file: Path | None, name: str | None) -> None:
    """Stop a detached fleet: the supervisor first (it stops its children), then any left."""
    from longboat.fleet import stop_fleet

    paths = _paths(ctx, file, name)
    stopped = stop_fleet(paths)
    click.echo(f"fleet {paths.dir.name}: " + (f"stopped {stopped}" if stopped else "not running"))


@fleet.command()
@click.argument("component", required=False)
@click.option("-f", "--file", "file", type=_FILE, help="The fleet file.")
@click.option("--name", help="The fleet's name (instead of -f).")
@click.option("-n", "lines", type=click.IntRange(0, 100_000), default=20, show_default=True)
@click.option("--follow", is_flag=True, help="Keep printing new lines (Ctrl-C stops).")
@click.pass_context
def logs(
    ctx: click.Context,
    component: str | None,
    file: Path | None,
    name: str | None,
    lines: int,
    follow: bool,
) -> None:
    """The last lines of each process's log (COMPONENT: e.g. gateway, triage, triage-1)."""
    from longboat.fleet import follow_logs, log_files, tail_lines

    paths = _paths(ctx, file, name)
    files = log_files(paths, component)
    if not files:
        raise UsageError(f"no logs for {component or 'this fleet'} in {paths.logs}")
    for path in files:
        for line in tail_lines(path, lines):
            click.echo(f"{path.stem:<16} {line}")
    if follow:
        for path, line in follow_logs(files):
            click.echo(f"{path.stem:<16} {line}")
