"""``longboat run``: run a component in the foreground until SIGTERM.

Every ``run`` command is the same few lines: build the component's settings (its options as
overrides), then :func:`serve` the service built from them. Exit codes: 0 after a clean
shutdown (SIGTERM or Ctrl-C); 2 when the start or the run fails with a terminal error (bad
settings, bad definitions: restarting will not help; one line, no traceback); 1 when it fails
with a retryable one (the broker went away: a supervisor's restart may succeed).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from longboat import Service, Settings, configure_logging, load_settings_as
from longboat.cli._app import run_async
from longboat.errors import LongboatError

__all__ = ["EXIT_RETRYABLE", "run", "serve"]

EXIT_RETRYABLE = 1
S = TypeVar("S", bound=Settings)


def serve(
    settings_cls: type[S], build: Callable[[S], Service], **overrides: dict[str, Any]
) -> None:
    """Load ``settings_cls`` (with ``overrides``), build the service and run it until a signal.

    SIGTERM and SIGINT call the service's ``shutdown()``; a terminal error surfaces as
    ``error: ...`` and exit 2 (the root group's policy), a retryable one as exit 1.
    """
    # Until the event loop's handlers take over, a SIGTERM (a supervisor stopping a process that
    # is still importing its agent or connecting) ends it cleanly: nothing has started yet.
    previous = signal.signal(signal.SIGTERM, _stop_before_start)
    try:
        settings = load_settings_as(settings_cls, **{k: v for k, v in overrides.items() if v})
        configure_logging(level=settings.log_level, fmt=settings.log_format)
        logging.getLogger("aiokafka").setLevel(logging.ERROR)
        service = build(settings)
        run_async(_run_until_signalled(service))
    except _StoppedBeforeStart:
        sys.exit(0)
    except LongboatError as e:
        if not e.retryable:
            raise
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_RETRYABLE)
    finally:
        signal.signal(signal.SIGTERM, previous)


class _StoppedBeforeStart(BaseException):
    """SIGTERM arrived before the service's own handler was installed."""


def _stop_before_start(signum: int, frame: object) -> None:
    raise _StoppedBeforeStart


async def _run_until_signalled(service: Service) -> None:
    loop = asyncio.get_running_loop()
    # Installed before opening: a SIGTERM while connecting still ends in a clean exit 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, service.shutdown)
    try:
        async with service:
            await service.run()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def _given(**options: object) -> dict[str, Any]:
    """The options the user gave (``None``: not given, the setting's own value stays)."""
    return {k: v for k, v in options.items() if v is not None}


@click.group()
def run() -> None:
    """Run a Longboat component in the foreground (stops cleanly on SIGTERM / Ctrl-C)."""


@run.command("agent")
@click.argument("spec", metavar="MODULE:ATTR")
@click.option(
    "--instance", help="Static member id (default: LONGBOAT_AGENT__INSTANCE, else the host name)."
)
@click.option(
    "--http-port",
    type=click.IntRange(0, 65535),
    help="Port of /livez, /readyz, /metrics (0: any free).",
)
def agent_command(spec: str, instance: str | None, http_port: int | None) -> None:
    """Run the agent defined at MODULE:ATTR (a longboat.agents.Agent) as a consumer-group member."""
    from longboat.agents import AgentRunner, AgentSettings, load_agent

    serve(
        AgentSettings,
        lambda settings: AgentRunner(load_agent(spec), settings),
        agent=_given(instance=instance, http_port=http_port),
    )


@run.command("registry")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="HTTP port (default LONGBOAT_REGISTRY__PORT, 8460).",
)
def registry_command(port: int | None) -> None:
    """Run the registry service (the only writer of lb.registry)."""
    from longboat.registry import RegistryService, RegistrySettings

    serve(RegistrySettings, RegistryService, registry=_given(port=port))


@run.command("gateway")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="HTTP port (default LONGBOAT_GATEWAY__PORT, 8480).",
)
def gateway_command(port: int | None) -> None:
    """Run the policy gateway (OPA at LONGBOAT_OPA_URL as its sidecar)."""
    from longboat.gateway import GatewayService, GatewaySettings

    serve(GatewaySettings, GatewayService, gateway=_given(port=port))


@run.command("coordinator")
@click.option(
    "--definitions",
    type=click.Path(exists=True, file_okay=False),
    help="Folder of workflow YAML files (default LONGBOAT_COORDINATOR__DEFINITIONS).",
)
@click.option(
    "--port", type=click.IntRange(0, 65535), help="Mission Control API port (default 8470)."
)
@click.option("--instance", help="Static member id prefix (default: the host name).")
def coordinator_command(definitions: str | None, port: int | None, instance: str | None) -> None:
    """Run the coordinator: workflows, handoffs, approvals, timers, Mission Control API."""
    from longboat.coordinator import CoordinatorService, CoordinatorSettings

    serve(
        CoordinatorSettings,
        CoordinatorService,
        coordinator=_given(definitions=definitions, port=port, instance=instance),
    )
