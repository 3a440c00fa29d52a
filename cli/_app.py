"""The root command group and its error policy: a user's mistake is one line and exit 2."""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

import click

from longboat import Settings, configure_logging, load_settings
from longboat.errors import LongboatError

__all__ = ["EXIT_USAGE", "cli", "main", "run_async", "settings_from"]

EXIT_USAGE = 2
T = TypeVar("T")


class _LongboatGroup(click.Group):
    """A group that turns every :class:`LongboatError` into ``error: <message>`` and exit 2.

    Its commands are imported on first use (``_COMMANDS``).
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*_COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or _lazy_command(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LongboatError as e:
            # The message already names the problem and the fix; a traceback would bury it.
            click.echo(f"error: {e}", err=True)
            sys.exit(EXIT_USAGE)
        except KeyboardInterrupt:
            sys.exit(130)


def settings_from(ctx: click.Context) -> Settings:
    """The process's settings, built once per invocation (errors become exit 2)."""
    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        root.obj = load_settings()
    return root.obj


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a fresh event loop."""
    return asyncio.run(coro)


@click.group(cls=_LongboatGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="longboat")
def cli() -> None:
    """Longboat: durable, governed, event-driven AI agents on Apache Kafka.

    Settings come from LONGBOAT_* environment variables, then from the addresses that
    `longboat dev up` recorded.
    """
    configure_logging(level="warning")
    # Broker errors reach the user as one translated line; aiokafka would print them twice.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


# Each command's module is imported only when that command runs (or for --help): a restarted
# `longboat run agent` must not pay for importing the coordinator, the gateway and the MCP SDK.
_COMMANDS = {
    "agents": "_agents:agents",
    "approve": "_signals:approve",
    "budgets": "_budgets:budgets",
    "cancel": "_signals:cancel",
    "consume": "_events:consume",
    "dev": "_dev:dev",
    "dlq": "_dlq:dlq",
    "fleet": "_fleet:fleet",
    "fork": "_fork:fork",
    "history": "_workflows:history",
    "inbox": "_workflows:inbox",
    "memory": "_memory:memory",
    "policy": "_policy:policy",
    "publish": "_events:publish",
    "reject": "_signals:reject",
    "replay": "_replay:replay",
    "run": "_run:run",
    "runs": "_runs:runs",
    "shadow": "_shadow:shadow",
    "tools": "_tools:tools",
    "topics": "_topics:topics",
    "trace": "_runs:trace",
    "workflows": "_workflows:workflows",
}


def _lazy_command(name: str) -> click.Command | None:
    target = _COMMANDS.get(name)
    if target is None:
        return None
    module, attr = target.split(":")
    command = getattr(importlib.import_module(f"longboat.cli.{module}"), attr)
    if not isinstance(command, click.Command):  # pragma: no cover - a wiring mistake
        raise TypeError(f"longboat.cli.{module}:{attr} is not a click command")
    return command


def main() -> None:
    """Entry point of the ``longboat`` console script."""
    cli(prog_name="longboat")
