"""Envelope <-> Kafka record, following the CloudEvents Kafka protocol binding.

Longboat writes *structured* mode: the record value is the whole envelope as JSON and the
``content-type`` header is ``application/cloudevents+json``. It also copies the attributes
into ``ce_*`` headers so that routers and other CloudEvents tools can filter records
without parsing the value. It reads both structured records and *binary*-mode records
written by other CloudEvents producers (attributes in ``ce_*`` headers, data in the value).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from longboat._envelope import Envelope
from longboat.errors import ConfigError, EventDecodeError, EventTooLarge

__all__ = ["DEFAULT_MAX_EVENT_BYTES", "EncodedEvent", "EnvelopeSerde", "Headers", "describe_errors"]

Headers = tuple[tuple[str, bytes], ...]

DEFAULT_MAX_EVENT_BYTES = 1_000_000  # Kafka's default max.message.bytes is 1 MiB minus overhead.
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
_CE_PREFIX = "ce_"
# Attributes carried in headers; "data" and "datacontenttype" are not (binding: content-type).
_HEADER_ATTRIBUTES = (
    "id",
    "type",
    "source",
    "specversion",
    "subject",
    "time",
    "workflowid",
    "correlationid",
    "causationid",
    "traceparent",
)


@dataclass(frozen=True, slots=True)
class EncodedEvent:
    """An envelope ready for Kafka: the record value and headers."""

    value: bytes
    headers: Headers


def describe_errors(error: ValidationError) -> str:
    """A one-line summary of a pydantic validation error: ``field: problem; ...``."""
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "(value)"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


class EnvelopeSerde:
    """Encodes envelopes to Kafka records and decodes records back, within a size limit."""

    def __init__(self, *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        """Create a serde.

        Args:
            max_event_bytes: The largest encoded value accepted in either direction.
        """
        if max_event_bytes < 1024:
            raise ConfigError(
                f"max_event_bytes={max_event_bytes} is too small: set at least 1024 "
                "(LONGBOAT_MAX_EVENT_BYTES)"
            )
        self.max_event_bytes = max_event_bytes

    def encode(self, event: Envelope) -> EncodedEvent:
        """Encode an envelope in structured mode, with ``ce_*`` headers.

        Raises:
            EventTooLarge: The encoded value is larger than ``max_event_bytes``.
        """
        value = event.model_dump_json(exclude_none=True).encode()
        if len(value) > self.max_event_bytes:
            raise EventTooLarge(
                f"event {event.id} is {len(value)} bytes, over the limit of "
                f"{self.max_event_bytes} (LONGBOAT_MAX_EVENT_BYTES)"
            )
        attributes = event.model_dump(mode="json", include=set(_HEADER_ATTRIBUTES))
        headers = [("content-type", STRUCTURED_CONTENT_TYPE.encode())]
        headers += [
            (_CE_PREFIX + name, str(attributes[name]).encode())
            for name in _HEADER_ATTRIBUTES
            if attributes.get(name) is not None
        ]
        return EncodedEvent(value=value, headers=tuple(headers))

    def decode(self, value: bytes | None, headers: Sequence[tuple[str, bytes]] = ()) -> Envelope:
        """Decode a Kafka record (structured or binary mode) into an envelope.

        Raises:
            EventTooLarge: The value is larger than ``max_event_bytes``.
            EventDecodeError: The record is not a valid event; the message says why.
        """
        if value is not None and len(value) > self.max_event_bytes:
            raise EventTooLarge(
                f"record value is {len(value)} bytes, over the limit of {self.max_event_bytes}"
            )
        header_map = _header_map(headers)
        content_type = header_map.get("content-type", "")
        if not content_type.startswith("application/cloudevents") and (
            _CE_PREFIX + "specversion" in header_map
        ):
            return _decode_binary(value, header_map, content_type)
        return _decode_structured(value)


def _header_map(headers: Sequence[tuple[str, bytes]]) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, raw in headers:
        try:
            result[name.lower()] = raw.decode()
        except UnicodeDecodeError as e:
            raise EventDecodeError(f"header {name!r} is not UTF-8") from e
    return result


def _decode_structured(value: bytes | None) -> Envelope:
    if not value:
        raise EventDecodeError("record has no value and no ce_* headers: not an event")
    try:
        return Envelope.model_validate_json(value)
    except ValidationError as e:
        raise EventDecodeError(f"invalid event: {describe_errors(e)}") from e


def _decode_binary(value: bytes | None, header_map: dict[str, str], content_type: str) -> Envelope:
    attributes: dict[str, object] = {
        name[len(_CE_PREFIX) :]: text
        for name, text in header_map.items()
        if name.startswith(_CE_PREFIX)
    }
    if content_type:
        attributes["datacontenttype"] = content_type
    attributes["data"] = _binary_data(value, content_type)
    try:
        return Envelope.model_validate(attributes)
    except ValidationError as e:
        raise EventDecodeError(f"invalid binary-mode event: {describe_errors(e)}") from e


def _binary_data(value: bytes | None, content_type: str) -> object:
    if value is None:
        return None
    media = content_type.split(";")[0].strip().lower()
    try:
        if not media or media == "application/json" or media.endswith("+json"):
            return json.loads(value)
        if media.startswith("text/"):
            return value.decode()
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EventDecodeError(f"binary-mode data is not valid {media or 'JSON'}: {e}") from e
    raise EventDecodeError(
        f"binary-mode data of type {media!r} is not supported (use JSON or text)"
    )
