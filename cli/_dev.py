"""``longboat dev``: the local Kafka broker and OPA server."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from longboat.cli._app import settings_from
from longboat.devinfra import DEFAULT_PORTS, KAFKA_VERSION, OPA_VERSION, DevPorts, DevStack

__all__ = ["dev"]


def _stack(ctx: click.Context) -> DevStack:
    return DevStack(settings_from(ctx).dev_home)


@click.group()
def dev() -> None:
    """Run a real local Kafka broker (KRaft) and OPA server on 127.0.0.1."""


@dev.command()
@click.option(
    "--kafka-port", type=click.IntRange(1, 65535), help="Broker port (default 9092 if free)."
)
@click.option("--opa-port", type=click.IntRange(1, 65535), help="OPA port (default 8181 if free).")
@click.option(
    "--brokers",
    type=click.Choice(["1", "3"]),
    default="1",
    show_default=True,
    help="3: a KRaft cluster on loopback (replication factor 3, min.insync.replicas=2).",
)
@click.pass_context
def up(ctx: click.Context, kafka_port: int | None, opa_port: int | None, brokers: str) -> None:
    """Provision (once, cached) and start the broker and OPA; print their addresses.

    The first run resolves Kafka's jars with Maven and builds OPA with Go (a few minutes);
    later runs start in seconds. Other longboat commands find the addresses automatically.
    """
    stack = _stack(ctx)
    ports = None
    if kafka_port is not None or opa_port is not None:
        ports = DevPorts.pick(
            (kafka_port or DEFAULT_PORTS[0], DEFAULT_PORTS[1], opa_port or DEFAULT_PORTS[2])
        )
    click.echo(
        f"provisioning Kafka {KAFKA_VERSION} and OPA {OPA_VERSION} into {stack.cache} ...", err=True
    )
    stack.provision()
    state = stack.up(ports=ports, brokers=int(brokers))
    pids = ", ".join(str(pid) for pid in state.kafka_pids)
    click.echo(f"kafka  {state.bootstrap_servers}  (pid {pids})")
    click.echo(f"opa    {state.opa_url}  (pid {state.opa_pid})")
    click.echo(f"state  {stack.state_file}")


@dev.command()
@click.pass_context
def provision(ctx: click.Context) -> None:
    """Resolve Kafka's jars and build OPA into the cache without starting anything.

    Prints the jar folder and the opa binary, for scripts (e.g. `opa test` in `make test`).
    """
    stack = _stack(ctx)
    click.echo(
        f"provisioning Kafka {KAFKA_VERSION} and OPA {OPA_VERSION} into {stack.cache} ...", err=True
    )
    jars, opa = stack.provision()
    click.echo(f"kafka-jars {jars}")
    click.echo(f"opa        {opa}")


@dev.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Show whether the local broker and OPA are running, and where."""
    stack = _stack(ctx)
    state = stack.read_state()
    if state is None:
        report: dict[str, object] = {"running": False, "kafka": None, "opa": None}
    else:
        report = {
            "running": state.kafka_running and state.opa_running,
            "kafka": {**asdict(state), "up": state.kafka_running},
            "opa": {"url": state.opa_url, "pid": state.opa_pid, "up": state.opa_running},
        }
    if as_json:
        click.echo(json.dumps(report))
        return
    if state is None:
        click.echo("not running (start it with `longboat dev up`)")
        return
    pids = ", ".join(str(pid) for pid in state.kafka_pids)
    for name, address, pid, alive in (
        ("kafka", state.bootstrap_servers, pids, state.kafka_running),
        ("opa", state.opa_url, state.opa_pid, state.opa_running),
    ):
        click.echo(f"{name:<6} {'up' if alive else 'DOWN':<5} {address}  (pid {pid})")


@dev.command()
@click.option("--wipe", is_flag=True, help="Also delete the broker's data.")
@click.pass_context
def down(ctx: click.Context, wipe: bool) -> None:
    """Stop the local broker and OPA (their data is kept unless --wipe)."""
    stopped = _stack(ctx).down(wipe=wipe)
    click.echo("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    if wipe:
        click.echo("data wiped")
