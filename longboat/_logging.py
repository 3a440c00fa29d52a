"""structlog configuration: JSON lines in production, a console renderer on a TTY.

Event names are snake_case past tense (``record_processed``); the fixed key vocabulary is
``agent_id``, ``run_id``, ``workflow_id``, ``step``, ``topic``, ``partition``, ``offset``,
``decision``, ``attempt``, ``duration_ms``, ``error_type``. Per-record context is bound with
:func:`structlog.contextvars.bind_contextvars`.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import structlog

__all__ = ["configure_logging", "get_logger"]

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}


def configure_logging(
    *,
    level: Literal["debug", "info", "warning", "error"] = "info",
    fmt: Literal["auto", "json", "console"] = "auto",
    stream: TextIO | None = None,
) -> None:
    """Configure structlog (and route the standard library's loggers through the same level).

    Args:
        level: The lowest level written.
        fmt: ``json``, ``console``, or ``auto`` (console when ``stream`` is a TTY).
        stream: Where log lines go; standard error by default.
    """
    out = stream if stream is not None else sys.stderr
    use_console = fmt == "console" or (fmt == "auto" and out.isatty())
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer() if use_console else structlog.processors.JSONRenderer()
    )
    numeric = _LEVELS.get(level, logging.ERROR)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    # Third-party libraries (aiokafka, opa-python-client) log through the standard library: keep
    # them quiet unless something is wrong, so that our JSON lines are not drowned.
    logging.basicConfig(stream=out, level=max(numeric, logging.WARNING), force=True)


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    """A logger tagged with its component (``component=name``).

    It stays lazy: modules create loggers at import time, before :func:`configure_logging`
    runs, and each call must still see the configuration in force when it logs.
    """
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(component=name)
    return logger
