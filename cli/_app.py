"""The root command group and its error policy: a user's mistake is one line and exit 2."""

from __future__ import annotations

import asyncio
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
    """A group that turns every :class:`LongboatError` into ``error: <message>`` and exit 2."""

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


def _register() -> None:
    from longboat.cli._agents import agents
    from longboat.cli._budgets import budgets
    from longboat.cli._dev import dev
    from longboat.cli._dlq import dlq
    from longboat.cli._events import consume, publish
    from longboat.cli._fleet import fleet
    from longboat.cli._fork import fork
    from longboat.cli._memory import memory
    from longboat.cli._policy import policy
    from longboat.cli._replay import replay
    from longboat.cli._run import run
    from longboat.cli._runs import runs, trace
    from longboat.cli._shadow import shadow
    from longboat.cli._signals import approve, cancel, reject
    from longboat.cli._tools import tools
    from longboat.cli._topics import topics
    from longboat.cli._workflows import history, inbox, workflows

    commands = (
        dev,
        topics,
        publish,
        consume,
        run,
        dlq,
        agents,
        policy,
        tools,
        memory,
        budgets,
        workflows,
        approve,
        reject,
        cancel,
        inbox,
        history,
        fleet,
        runs,
        trace,
        replay,
        fork,
        shadow,
    )
    for command in commands:
        cli.add_command(command)


_register()


def main() -> None:
    """Entry point of the ``longboat`` console script."""
    cli(prog_name="longboat")
