"""Envelope <-> Kafka record, per the CloudEvents Kafka binding, within a size limit."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from longboat import Envelope, EnvelopeSerde
from longboat.errors import ConfigError, EventDecodeError, EventTooLarge

serde = EnvelopeSerde(max_event_bytes=4096)


FULL = Envelope(
    type="claims.submitted",
    source="/claims",
    subject="claim-1",
    data={"amount": 120.5, "items": [1, 2]},
    dataschema="https://example.com/claim.json",
    workflowid="wf-1",
    correlationid="c-1",
    causationid="e-0",
    traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01",
)


def test_round_trip_keeps_every_attribute() -> None:
    """encode then decode gives back an equal envelope."""
    encoded = serde.encode(FULL)
    assert serde.decode(encoded.value, encoded.headers) == FULL


def test_encode_writes_binary_mode() -> None:
    """Attributes and extensions go to ce_* headers, datacontenttype to content-type, data alone
    to the value."""
    encoded = serde.encode(FULL)
    headers = dict(encoded.headers)
    assert json.loads(encoded.value) == FULL.data
    assert headers["content-type"] == b"application/json"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_id"] == FULL.id.encode()
    assert headers["ce_type"] == b"claims.submitted"
    assert headers["ce_source"] == b"/claims"
    assert headers["ce_subject"] == b"claim-1"
    assert headers["ce_dataschema"] == b"https://example.com/claim.json"
    assert headers["ce_workflowid"] == b"wf-1"
    assert headers["ce_correlationid"] == b"c-1"
    assert headers["ce_causationid"] == b"e-0"
    assert headers["ce_traceparent"] == FULL.traceparent.encode()  # type: ignore[union-attr]
    assert "ce_data" not in headers
    assert "ce_datacontenttype" not in headers


def test_time_header_is_rfc3339_utc() -> None:
    """ce_time is RFC 3339 with a Z suffix, as the CloudEvents SDKs write and parse it."""
    event = Envelope(type="t", source="s", time=datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC))
    assert dict(serde.encode(event).headers)["ce_time"] == b"2026-01-02T03:04:05.678000Z"


def test_absent_attributes_get_no_header() -> None:
    """Absent optional attributes are not written as empty headers."""
    headers = dict(serde.encode(Envelope(type="t", source="s")).headers)
    assert "ce_subject" not in headers
    assert "ce_workflowid" not in headers


@pytest.mark.parametrize("data", [None, "text", "", 0, 1.5, True, [1, "a"], {"k": None}])
def test_every_json_data_shape_round_trips(data: object) -> None:
    """Any JSON value (scalars, strings, lists, objects, null) survives binary mode."""
    event = Envelope(type="t", source="s", data=data)  # type: ignore[arg-type]
    encoded = serde.encode(event)
    assert serde.decode(encoded.value, encoded.headers) == event


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
_ATTRIBUTE = st.text(min_size=1, max_size=40)


@given(data=_JSON, subject=st.none() | _ATTRIBUTE, workflowid=st.none() | _ATTRIBUTE)
def test_any_json_event_round_trips(
    data: object, subject: str | None, workflowid: str | None
) -> None:
    """Property: any JSON data and any (unicode) attribute values survive binary mode."""
    event = Envelope(type="t", source="s", data=data, subject=subject, workflowid=workflowid)  # type: ignore[arg-type]
    encoded = serde.encode(event)
    assert serde.decode(encoded.value, encoded.headers) == event


@given(text=st.text(min_size=1))
def test_any_text_event_round_trips(text: str) -> None:
    """Property: non-empty text data survives binary mode (an empty value means no data)."""
    event = Envelope(type="t", source="s", datacontenttype="text/plain; charset=utf-8", data=text)
    encoded = serde.encode(event)
    assert serde.decode(encoded.value, encoded.headers) == event


def test_no_data_is_an_empty_value_not_a_tombstone() -> None:
    """An event without data is written as an empty value (null would delete on compacted
    topics)."""
    encoded = serde.encode(Envelope(type="t", source="s"))
    assert encoded.value == b""


def test_text_data_is_written_as_text() -> None:
    """A non-JSON media type writes the string itself, not a JSON-quoted one."""
    event = Envelope(type="t", source="s", datacontenttype="text/plain", data="héllo")
    encoded = serde.encode(event)
    assert encoded.value == "héllo".encode()
    assert dict(encoded.headers)["content-type"] == b"text/plain"
    assert serde.decode(encoded.value, encoded.headers) == event


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
    assert event.time == datetime(2026, 1, 1, tzinfo=UTC)
    assert event.data == {"order": 5}
    assert event.datacontenttype == "application/json"


def test_binary_mode_without_content_type_is_json() -> None:
    """No content-type header: the data is JSON (the CloudEvents default)."""
    headers = [("ce_specversion", b"1.0"), ("ce_id", b"1"), ("ce_type", b"t"), ("ce_source", b"s")]
    event = serde.decode(b"[1, 2]", headers)
    assert event.data == [1, 2]
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


def test_binary_mode_non_text_payload_is_refused() -> None:
    """Bytes that are neither JSON nor UTF-8 text are an error naming the media type."""
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"1"),
        ("ce_type", b"t"),
        ("ce_source", b"s"),
        ("content-type", b"application/octet-stream"),
    ]
    with pytest.raises(EventDecodeError, match="octet-stream"):
        serde.decode(b"\xff\xfe\x00", headers)


def test_binary_mode_invalid_json_is_refused() -> None:
    """A JSON content type with a value that is not JSON is an error that says what to set."""
    headers = [("ce_specversion", b"1.0"), ("ce_id", b"1"), ("ce_type", b"t"), ("ce_source", b"s")]
    with pytest.raises(EventDecodeError, match=r"not valid JSON.*text/plain"):
        serde.decode(b"hello", headers)


def test_binary_mode_without_specversion_is_refused() -> None:
    """ce_* headers without ce_specversion are not a CloudEvent."""
    with pytest.raises(EventDecodeError, match="ce_specversion"):
        serde.decode(b"{}", [("ce_id", b"1"), ("ce_type", b"t"), ("ce_source", b"s")])


def test_binary_mode_unknown_extension_is_refused_by_name() -> None:
    """An extension the envelope does not know is named in the error, not dropped."""
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"1"),
        ("ce_type", b"t"),
        ("ce_source", b"s"),
        ("ce_tenant", b"acme"),
    ]
    with pytest.raises(EventDecodeError, match="tenant"):
        serde.decode(b"{}", headers)


def test_structured_record_with_ce_headers_is_read_from_the_value() -> None:
    """Records written before binary mode (structured value plus ce_* headers) still decode."""
    value = FULL.model_dump_json(exclude_none=True).encode()
    headers = [
        ("content-type", b"application/cloudevents+json; charset=utf-8"),
        ("ce_id", FULL.id.encode()),
        ("ce_specversion", b"1.0"),
        ("ce_type", b"claims.submitted"),
    ]
    assert serde.decode(value, headers) == FULL


def test_structured_record_without_headers_is_read_from_the_value() -> None:
    """A bare envelope JSON value (no headers at all) decodes."""
    assert serde.decode(FULL.model_dump_json().encode()) == FULL


def test_structured_binary_data_is_refused_with_reason() -> None:
    """A structured event carrying data_base64 is refused with a reason, not a schema dump."""
    value = b'{"specversion": "1.0", "id": "1", "type": "t", "source": "s", "data_base64": "AA=="}'
    with pytest.raises(EventDecodeError, match="data_base64"):
        serde.decode(value, [("content-type", b"application/cloudevents+json")])


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


def test_headers_count_towards_the_size_limit() -> None:
    """Value plus headers are measured: large attributes cannot slip past the limit."""
    big_subject = Envelope(type="t", source="s", subject="s" * 1000, causationid="c" * 1000)
    small = EnvelopeSerde(max_event_bytes=1024)
    with pytest.raises(EventTooLarge):
        small.encode(big_subject)
    with pytest.raises(EventTooLarge):
        small.decode(b"{}", [("ce_specversion", b"1.0"), ("ce_subject", b"s" * 2000)])


def test_tiny_limit_is_a_config_error() -> None:
    """A limit too small for any event is refused with the setting to change."""
    with pytest.raises(ConfigError, match="LONGBOAT_MAX_EVENT_BYTES"):
        EnvelopeSerde(max_event_bytes=10)
