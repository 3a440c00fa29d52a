"""``longboat approve | reject | cancel``: signals to a waiting or running workflow.

``longboat workflows resume`` sends its signal through :func:`send_signal` too.
"""

from __future__ import annotations

import getpass

import click

from longboat import TopicNames
from longboat.cli._app import run_async, settings_from
from longboat.coordinator import SignalData
from longboat.kafka import Admin, Producer

__all__ = ["approve", "cancel", "reject", "send_signal", "signer"]


def signer(by: str | None) -> str:
    """Who signs a signal: ``--by``, else the current user."""
    return by or getpass.getuser()


def send_signal(ctx: click.Context, workflow_id: str, data: SignalData) -> str:
    """Write ``data`` for ``workflow_id`` to ``lb.signals``; the signal's id."""
    from longboat import EnvelopeSerde
    from longboat.coordinator import signal_event

    settings = settings_from(ctx)
    topic = TopicNames(settings.topic_prefix).signals
    event = signal_event(workflow_id, data)
    encoded = EnvelopeSerde(max_event_bytes=settings.max_event_bytes).encode(event)

    async def send() -> None:
        async with Admin(settings.kafka) as admin:
            await admin.partition_count(topic)  # a clear error if the topic is missing
        async with Producer(settings.kafka) as producer:
            # Keyed by workflow id: signals of one workflow stay in order.
            await producer.send(
                topic, encoded.value, key=workflow_id.encode(), headers=encoded.headers
            )

    run_async(send())
    return event.id


def _send(
    ctx: click.Context, workflow_id: str, signal: str, note: str | None, by: str | None
) -> None:
    who = signer(by)
    data = SignalData(signal=signal, by=who, note=note)  # type: ignore[arg-type]
    signal_id = send_signal(ctx, workflow_id, data)
    click.echo(f"{signal} sent for {workflow_id} by {who} (signal {signal_id})")


def _command(signal: str, summary: str) -> click.Command:
    @click.command(name=signal, help=summary)
    @click.argument("workflow_id")
    @click.option("--note", help="Why (recorded in the workflow's history).")
    @click.option("--by", help="Who decides (default: the current user).")
    @click.pass_context
    def command(ctx: click.Context, workflow_id: str, note: str | None, by: str | None) -> None:
        _send(ctx, workflow_id, signal, note, by)

    return command


approve = _command("approve", "Approve the gate WORKFLOW_ID is waiting at.")
reject = _command(
    "reject", "Reject the gate WORKFLOW_ID is waiting at (the workflow ends rejected)."
)
cancel = _command("cancel", "Cancel WORKFLOW_ID wherever it is.")
