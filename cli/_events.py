"""``longboat publish`` and ``longboat consume``: events through the real broker."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from pydantic import JsonValue, TypeAdapter, ValidationError

from longboat import Envelope, EnvelopeSerde, Settings, describe_errors
from longboat.cli._app import run_async, settings_from
from longboat.errors import EventError, UsageError
from longboat.kafka import Admin, Consumer, Producer

__all__ = ["consume", "publish"]

_JSON = TypeAdapter(JsonValue)


def parse_data(raw: str) -> JsonValue:
    """``--data``: inline JSON, ``@FILE`` or ``@-`` (standard input)."""
    where = "--data"
    text = raw
    if raw.startswith("@"):
        name = raw[1:]
        where = f"--data file {name}"
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text()
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"{where}: cannot read it: {e.__class__.__name__}: {e}") from e
    try:
        value: JsonValue = _JSON.validate_python(json.loads(text))
    except (json.JSONDecodeError, ValidationError) as e:
        raise UsageError(
            f"{where} is not valid JSON: {e} (quote it, e.g. --data '{{\"a\": 1}}')"
        ) from e
    return value


async def _require_topic(settings: Settings, topic: str) -> None:
    async with Admin(settings.kafka) as admin:
        await admin.partition_count(topic)


@click.command()
@click.argument("topic")
@click.option("--data", "data", required=True, help="The event data: JSON, @FILE, or @- for stdin.")
@click.option("--key", help="Record key (e.g. the business key); default none.")
@click.option(
    "--type",
    "event_type",
    default="longboat.cli.published",
    show_default=True,
    help="CloudEvents type.",
)
@click.option("--source", default="longboat-cli", show_default=True, help="CloudEvents source.")
@click.option("--subject", help="CloudEvents subject.")
@click.option("--workflow-id", help="The workflowid extension.")
@click.option(
    "--traceparent",
    help="The traceparent extension (W3C: 00-<32 hex>-<16 hex>-<2 hex>): the trace it continues.",
)
@click.pass_context
def publish(
    ctx: click.Context,
    topic: str,
    data: str,
    key: str | None,
    event_type: str,
    source: str,
    subject: str | None,
    workflow_id: str | None,
    traceparent: str | None,
) -> None:
    """Wrap DATA in an event envelope, publish it to TOPIC and print the event id."""
    settings = settings_from(ctx)
    try:
        event = Envelope(
            type=event_type,
            source=source,
            subject=subject,
            workflowid=workflow_id,
            traceparent=traceparent,
            data=parse_data(data),
        )
    except ValidationError as e:
        raise EventError(f"invalid event: {describe_errors(e)}") from e
    encoded = EnvelopeSerde(max_event_bytes=settings.max_event_bytes).encode(event)

    async def send() -> None:
        await _require_topic(settings, topic)
        async with Producer(settings.kafka) as producer:
            await producer.send(
                topic, encoded.value, key=key.encode() if key else None, headers=encoded.headers
            )

    run_async(send())
    click.echo(event.id)


@click.command()
@click.argument("topic")
@click.option(
    "--from-beginning", is_flag=True, help="Start at the oldest record (default: only new ones)."
)
@click.option(
    "--max", "max_events", type=click.IntRange(min=1), help="Stop after this many events."
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop when no record arrives for this many seconds (default: run until Ctrl-C).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print each envelope as one JSON object per line."
)
@click.pass_context
def consume(
    ctx: click.Context,
    topic: str,
    from_beginning: bool,
    max_events: int | None,
    timeout: float | None,
    as_json: bool,
) -> None:
    """Print the events on TOPIC (committed transactions only; no consumer group, no commits)."""
    settings = settings_from(ctx)
    serde = EnvelopeSerde(max_event_bytes=settings.max_event_bytes)

    async def read() -> None:
        await _require_topic(settings, topic)
        seen = 0
        idle_since = time.monotonic()
        async with Consumer(
            settings.kafka, topics=[topic], from_beginning=from_beginning
        ) as consumer:
            while max_events is None or seen < max_events:
                if timeout is not None and time.monotonic() - idle_since > timeout:
                    return
                for record in await consumer.poll(timeout_ms=200):
                    idle_since = time.monotonic()
                    try:
                        event = serde.decode(record.value, record.headers)
                    except EventError as e:
                        click.echo(f"skipped {record.coordinates}: {e}", err=True)
                        continue
                    click.echo(
                        event.model_dump_json(exclude_none=True) if as_json else _line(event)
                    )
                    seen += 1
                    if max_events is not None and seen >= max_events:
                        return

    run_async(read())


def _line(event: Envelope) -> str:
    data = json.dumps(event.data, separators=(",", ":"))
    return f"{event.time.isoformat()}  {event.type}  {event.id}  {data}"
