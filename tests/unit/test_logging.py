"""structlog configuration: JSON lines with bound context when not on a TTY."""

from __future__ import annotations

import io
import json

import structlog

from longboat import configure_logging, get_logger


def test_json_lines_carry_bound_context() -> None:
    """Off a TTY, each log call is one JSON object with the contextvars merged in."""
    out = io.StringIO()
    configure_logging(level="info", fmt="auto", stream=out)
    structlog.contextvars.bind_contextvars(run_id="r-1", partition=3)
    try:
        get_logger("test").info("record_processed", offset=42)
        get_logger("test").debug("not_written")
    finally:
        structlog.contextvars.clear_contextvars()
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["event"] == "record_processed"
    assert record["run_id"] == "r-1"
    assert record["partition"] == 3
    assert record["offset"] == 42
    assert record["level"] == "info"
    assert record["component"] == "test"


def test_console_format_is_not_json() -> None:
    """fmt='console' renders for humans."""
    out = io.StringIO()
    configure_logging(fmt="console", stream=out)
    get_logger("test").warning("policy_denied", decision="deny")
    text = out.getvalue()
    assert "policy_denied" in text
    assert not text.lstrip().startswith("{")


def test_loggers_made_before_configuration_follow_it() -> None:
    """A module-level logger created before configure_logging obeys the later configuration."""
    configure_logging(level="error", stream=io.StringIO())
    early = get_logger("early")
    out = io.StringIO()
    configure_logging(level="info", fmt="json", stream=out)
    early.info("record_processed")
    assert json.loads(out.getvalue())["event"] == "record_processed"
