"""Records a run produces, buffered until its checkpoint transaction."""

from __future__ import annotations

from dataclasses import dataclass

from longboat import Envelope, EnvelopeSerde, Headers, current_traceparent

__all__ = ["OutputRecord", "output_of"]


@dataclass(frozen=True, slots=True)
class OutputRecord:
    """One record to write in the checkpoint transaction."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Headers
    partition: int | None = None


def output_of(
    serde: EnvelopeSerde,
    topic: str,
    event: Envelope,
    key: bytes | None,
    partition: int | None = None,
) -> OutputRecord:
    """Encode ``event`` now, so that a size or shape error surfaces inside the handler.

    With tracing on, the event carries the current span (the run's, or the coordinator's
    dispatch) as its ``traceparent``: its consumer's span becomes that span's child.
    """
    parent = current_traceparent()
    if parent is not None and parent != event.traceparent:
        event = event.model_copy(update={"traceparent": parent})
    encoded = serde.encode(event)
    return OutputRecord(
        topic=topic, key=key, value=encoded.value, headers=encoded.headers, partition=partition
    )
