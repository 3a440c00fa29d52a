"""``longboat run``: run a component in the foreground until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal

import click

from longboat import configure_logging
from longboat.cli._app import run_async

__all__ = ["run"]


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
    from longboat import load_settings_as
    from longboat.agents import AgentRunner, AgentSettings, load_agent

    runtime: dict[str, object] = {}
    if instance is not None:
        runtime["instance"] = instance
    if http_port is not None:
        runtime["http_port"] = http_port
    settings = load_settings_as(AgentSettings, **({"agent": runtime} if runtime else {}))
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    agent = load_agent(spec)

    async def serve() -> None:
        async with AgentRunner(agent, settings) as runner:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, runner.shutdown)
            await runner.run()

    run_async(serve())


@run.command("registry")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="HTTP port (default LONGBOAT_REGISTRY__PORT, 8460).",
)
def registry_command(port: int | None) -> None:
    """Run the registry service (the only writer of lb.registry)."""
    from longboat import load_settings_as
    from longboat.registry import RegistryService, RegistrySettings

    overrides: dict[str, object] = {"registry": {"port": port}} if port is not None else {}
    settings = load_settings_as(RegistrySettings, **overrides)
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)

    async def serve() -> None:
        async with RegistryService(settings) as service:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, service.shutdown)
            await service.run()

    run_async(serve())


@run.command("gateway")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="HTTP port (default LONGBOAT_GATEWAY__PORT, 8480).",
)
def gateway_command(port: int | None) -> None:
    """Run the policy gateway (OPA at LONGBOAT_OPA_URL as its sidecar)."""
    from longboat import load_settings_as
    from longboat.gateway import GatewayService, GatewaySettings

    overrides: dict[str, object] = {"gateway": {"port": port}} if port is not None else {}
    settings = load_settings_as(GatewaySettings, **overrides)
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)

    async def serve() -> None:
        async with GatewayService(settings) as service:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, service.shutdown)
            await service.run()

    run_async(serve())


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
    from longboat import load_settings_as
    from longboat.coordinator import CoordinatorService, CoordinatorSettings

    options = {
        k: v
        for k, v in {"definitions": definitions, "port": port, "instance": instance}.items()
        if v is not None
    }
    settings = load_settings_as(
        CoordinatorSettings, **({"coordinator": options} if options else {})
    )
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)

    async def serve() -> None:
        async with CoordinatorService(settings) as service:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, service.shutdown)
            await service.run()

    run_async(serve())
