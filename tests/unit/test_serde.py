"""Envelope <-> Kafka record, per the CloudEvents Kafka binding, within a size limit."""

from __future__ import annotations

import json

import pytest

from longboat import Envelope, EnvelopeSerde
from longboat.errors import ConfigError, EventDecodeError, EventTooLarge

serde = EnvelopeSerde(max_event_bytes=4096)


def test_structured_round_trip_keeps_every_attribute() -> None:
    """encode then decode gives back an equal envelope."""
    event = Envelope(
        type="claims.submitted",
        source="/claims",
        subject="claim-1",
        data={"amount": 120.5, "items": [1, 2]},
        workflowid="wf-1",
        correlationid="c-1",
        causationid="e-0",
        traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01",
    )
    encoded = serde.encode(event)
    assert serde.decode(encoded.value, encoded.headers) == event


def test_headers_carry_ce_attributes_and_structured_content_type() -> None:
    """The ce_* headers mirror the attributes; content-type marks structured mode."""
    event = Envelope(type="t", source="s", workflowid="wf-9")
    headers = dict(serde.encode(event).headers)
    assert headers["content-type"].startswith(b"application/cloudevents+json")
    assert headers["ce_id"] == event.id.encode()
    assert headers["ce_type"] == b"t"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_workflowid"] == b"wf-9"
    assert "ce_subject" not in headers  # absent attributes are not written as empty headers
    assert "ce_data" not in headers


def test_binary_mode_record_from_another_producer_is_decoded() -> None:
    """A binary-mode record (attributes in headers, data in value) decodes to an envelope."""
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"evt-1"),
        ("ce_type", b"com.example.order"),
        ("ce_source", b"/orders"),
        ("ce_time", b"2026-01-01T00:00:00Z"),
        ("content-type", b"application/json"),
    ]
    event = serde.decode(json.dumps({"order": 5}).encode(), headers)
    assert event.id == "evt-1"
    assert event.type == "com.example.order"
    assert event.data == {"order": 5}
    assert event.datacontenttype == "application/json"


def test_binary_mode_text_data() -> None:
    """Binary mode with a text/* content type keeps the data as a string."""
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"1"),
        ("ce_type", b"t"),
        ("ce_source", b"s"),
        ("content-type", b"text/plain"),
    ]
    assert serde.decode(b"hello", headers).data == "hello"


def test_binary_mode_unsupported_content_type_is_refused() -> None:
    """Binary data in a format we cannot represent is an error naming the type."""
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"1"),
        ("ce_type", b"t"),
        ("ce_source", b"s"),
        ("content-type", b"application/octet-stream"),
    ]
    with pytest.raises(EventDecodeError, match="octet-stream"):
        serde.decode(b"\x00\x01", headers)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"not json", "invalid event"),
        (b'{"type": "t"}', "source"),
        (b'{"type": "t", "source": "s", "bogus": 1}', "bogus"),
        (None, "no value"),
        (b"", "no value"),
    ],
)
def test_invalid_records_raise_decode_error_with_reason(value: bytes | None, reason: str) -> None:
    """Undecodable or schema-invalid records raise EventDecodeError naming the problem."""
    with pytest.raises(EventDecodeError, match=reason):
        serde.decode(value)


def test_non_utf8_header_is_a_decode_error() -> None:
    """A header that is not UTF-8 is reported, not crashed on."""
    with pytest.raises(EventDecodeError, match="UTF-8"):
        serde.decode(b"{}", [("ce_id", b"\xff\xfe")])


def test_oversize_event_is_refused_on_encode_and_decode() -> None:
    """Events over max_event_bytes are refused in both directions."""
    big = Envelope(type="t", source="s", data="x" * 5000)
    with pytest.raises(EventTooLarge, match="4096"):
        serde.encode(big)
    with pytest.raises(EventTooLarge):
        serde.decode(b"{" + b" " * 5000 + b"}")


def test_tiny_limit_is_a_config_error() -> None:
    """A limit too small for any event is refused with the setting to change."""
    with pytest.raises(ConfigError, match="LONGBOAT_MAX_EVENT_BYTES"):
        EnvelopeSerde(max_event_bytes=10)
