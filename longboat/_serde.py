"""Envelope <-> Kafka record, following the CloudEvents Kafka protocol binding.

Longboat writes **binary** content mode: every attribute except ``data`` and
``datacontenttype`` is a ``ce_<name>`` header (extensions included), ``datacontenttype`` is the
``content-type`` header, and the record value is the data alone (JSON for a JSON media type,
UTF-8 text otherwise, empty when there is no data). Binary mode is what Kafka CloudEvents
tooling expects, and the official SDKs decide the mode by the headers: any ``ce_`` header means
binary. Structured records that also carry ``ce_`` headers (what Longboat wrote before) are
therefore read by those SDKs with the whole envelope as the data; binary mode has no such trap.

Decoding accepts both modes, so topics written before the switch stay readable:

- ``content-type: application/cloudevents...`` -> structured (the value is the whole envelope;
  any ``ce_`` headers are ignored, as the binding says);
- otherwise any ``ce_`` header -> binary;
- no headers at all -> structured (a bare envelope JSON value).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError
from pydantic_core import to_json

from longboat._envelope import Envelope, is_json_content_type
from longboat.errors import ConfigError, EventDecodeError, EventTooLarge

__all__ = ["DEFAULT_MAX_EVENT_BYTES", "EncodedEvent", "EnvelopeSerde", "Headers", "describe_errors"]

Headers = tuple[tuple[str, bytes], ...]

DEFAULT_MAX_EVENT_BYTES = 1_000_000  # Kafka's default max.message.bytes is 1 MiB minus overhead.
CONTENT_TYPE_HEADER = "content-type"
STRUCTURED_MEDIA_PREFIX = "application/cloudevents"
_CE_PREFIX = "ce_"
# Everything but data (the value) and datacontenttype (the content-type header), in the order the
# headers are written; absent attributes get no header.
_HEADER_ATTRIBUTES = (
    "specversion",
    "id",
    "type",
    "source",
    "subject",
    "time",
    "dataschema",
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


def _record_size(value: bytes | None, headers: Sequence[tuple[str, bytes]]) -> int:
    # Headers count towards Kafka's max.message.bytes just like the value does.
    return len(value or b"") + sum(len(name) + len(raw) for name, raw in headers)


class EnvelopeSerde:
    """Encodes envelopes to Kafka records and decodes records back, within a size limit."""

    def __init__(self, *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        """Create a serde.

        Args:
            max_event_bytes: The largest record (value plus headers) accepted in either direction.
        """
        if max_event_bytes < 1024:
            raise ConfigError(
                f"max_event_bytes={max_event_bytes} is too small: set at least 1024 "
                "(LONGBOAT_MAX_EVENT_BYTES)"
            )
        self.max_event_bytes = max_event_bytes

    def encode(self, event: Envelope) -> EncodedEvent:
        """Encode an envelope in binary mode: ``ce_*`` headers, the data as the value.

        Raises:
            EventTooLarge: Value plus headers are larger than ``max_event_bytes``.
        """
        attributes = event.model_dump(mode="json", include=set(_HEADER_ATTRIBUTES))
        headers = [(CONTENT_TYPE_HEADER, event.datacontenttype.encode())]
        headers += [
            (_CE_PREFIX + name, str(attributes[name]).encode())
            for name in _HEADER_ATTRIBUTES
            if attributes.get(name) is not None
        ]
        value = _encode_data(event)
        size = _record_size(value, headers)
        if size > self.max_event_bytes:
            raise EventTooLarge(
                f"event {event.id} is {size} bytes, over the limit of "
                f"{self.max_event_bytes} (LONGBOAT_MAX_EVENT_BYTES)"
            )
        return EncodedEvent(value=value, headers=tuple(headers))

    def decode(self, value: bytes | None, headers: Sequence[tuple[str, bytes]] = ()) -> Envelope:
        """Decode a Kafka record (binary or structured mode) into an envelope.

        Raises:
            EventTooLarge: Value plus headers are larger than ``max_event_bytes``.
            EventDecodeError: The record is not a valid event; the message says why.
        """
        size = _record_size(value, headers)
        if size > self.max_event_bytes:
            raise EventTooLarge(f"record is {size} bytes, over the limit of {self.max_event_bytes}")
        header_map = _header_map(headers)
        content_type = header_map.get(CONTENT_TYPE_HEADER)
        structured = (content_type or "").lower().startswith(STRUCTURED_MEDIA_PREFIX)
        if not structured and any(name.startswith(_CE_PREFIX) for name in header_map):
            return _decode_binary(value, header_map, content_type)
        return _decode_structured(value)


def _encode_data(event: Envelope) -> bytes:
    if event.data is None:
        return b""  # an empty value, never a null one: null is a tombstone on compacted topics
    if is_json_content_type(event.datacontenttype):
        return to_json(event.data)
    # The envelope guarantees a string for non-JSON media types.
    return str(event.data).encode()


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
        if b'"data_base64"' in value:
            raise EventDecodeError(
                "invalid event: data_base64 (binary data) is not supported; send JSON or text data"
            ) from e
        raise EventDecodeError(f"invalid event: {describe_errors(e)}") from e


def _decode_binary(
    value: bytes | None, header_map: dict[str, str], content_type: str | None
) -> Envelope:
    if _CE_PREFIX + "specversion" not in header_map:
        raise EventDecodeError("binary-mode record has ce_* headers but no ce_specversion header")
    attributes: dict[str, object] = {
        name[len(_CE_PREFIX) :]: text
        for name, text in header_map.items()
        if name.startswith(_CE_PREFIX)
    }
    if content_type:
        attributes["datacontenttype"] = content_type
    attributes["data"] = _decode_data(value, content_type)
    try:
        return Envelope.model_validate(attributes)
    except ValidationError as e:
        raise EventDecodeError(f"invalid binary-mode event: {describe_errors(e)}") from e


def _decode_data(value: bytes | None, content_type: str | None) -> object:
    if not value:
        return None  # as the CloudEvents SDKs read it: an empty value is an event without data
    media = (content_type or "application/json").split(";", 1)[0].strip()
    try:
        if is_json_content_type(content_type):
            return json.loads(value)
        return value.decode()
    except json.JSONDecodeError as e:
        raise EventDecodeError(
            f"binary-mode data is not valid JSON ({e}); content-type is {media!r}: "
            "a producer sending text must say so (e.g. text/plain)"
        ) from e
    except UnicodeDecodeError as e:
        raise EventDecodeError(
            f"binary-mode data of type {media!r} is not UTF-8 text; "
            "Longboat events carry JSON or text data"
        ) from e
