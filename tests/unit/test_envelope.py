"""The event envelope: CloudEvents attributes, Longboat extensions and their validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from longboat import Envelope
from longboat._envelope import is_json_content_type


def test_defaults_fill_id_time_and_specversion() -> None:
    """A new envelope gets a unique id, an aware UTC time and specversion 1.0."""
    a = Envelope(type="t", source="s")
    b = Envelope(type="t", source="s")
    assert a.id != b.id
    assert a.specversion == "1.0"
    assert a.time.tzinfo is not None
    assert a.time.utcoffset() == timedelta(0)
    assert a.datacontenttype == "application/json"


def test_time_is_normalised_to_utc() -> None:
    """A time in another zone is converted to UTC, keeping the instant."""
    plus_two = datetime(2026, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    event = Envelope(type="t", source="s", time=plus_two)
    assert event.time == datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert event.time.utcoffset() == timedelta(0)


def test_naive_time_is_refused() -> None:
    """A time without a zone is ambiguous and refused with a hint."""
    with pytest.raises(ValidationError, match="time zone"):
        Envelope(type="t", source="s", time=datetime(2026, 1, 1))


def test_unknown_attribute_is_refused() -> None:
    """extra='forbid': a misspelt attribute is an error, not silently dropped."""
    with pytest.raises(ValidationError, match="workflow_id"):
        Envelope.model_validate({"type": "t", "source": "s", "workflow_id": "w"})


def test_envelope_is_frozen() -> None:
    """Envelopes are immutable once built."""
    event = Envelope(type="t", source="s")
    with pytest.raises(ValidationError):
        event.type = "other"  # type: ignore[misc]


@pytest.mark.parametrize("field", ["type", "source", "id"])
def test_required_attributes_must_not_be_empty(field: str) -> None:
    """Empty type, source or id is refused."""
    values = {"type": "t", "source": "s", field: ""}
    with pytest.raises(ValidationError, match=field):
        Envelope.model_validate(values)


def test_traceparent_must_be_w3c() -> None:
    """traceparent accepts a W3C trace context and refuses anything else."""
    good = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    assert Envelope(type="t", source="s", traceparent=good).traceparent == good
    with pytest.raises(ValidationError, match="traceparent"):
        Envelope(type="t", source="s", traceparent="not-a-trace")


def test_specversion_other_than_1_0_is_refused() -> None:
    """Only CloudEvents 1.0 is accepted."""
    with pytest.raises(ValidationError, match="specversion"):
        Envelope.model_validate({"type": "t", "source": "s", "specversion": "0.3"})


def test_caused_event_carries_workflow_correlation_and_causation() -> None:
    """caused(): same workflow, subject and trace; correlation is the root; causation the parent."""
    root = Envelope(type="a", source="s", workflowid="wf-1", subject="claim-7")
    child = root.caused(type="b", source="agent", data={"x": 1})
    grandchild = child.caused(type="c", source="agent")
    assert child.workflowid == "wf-1"
    assert child.subject == "claim-7"
    assert child.causationid == root.id
    assert child.correlationid == root.id
    assert grandchild.causationid == child.id
    assert grandchild.correlationid == root.id
    assert child.data == {"x": 1}


def test_non_json_content_type_requires_text_data() -> None:
    """With a non-JSON datacontenttype the data must be a string (the binding writes it as is)."""
    assert Envelope(type="t", source="s", datacontenttype="text/plain", data="hi").data == "hi"
    assert Envelope(type="t", source="s", datacontenttype="text/csv").data is None
    with pytest.raises(ValidationError, match="application/json"):
        Envelope(type="t", source="s", datacontenttype="text/plain", data={"a": 1})


@pytest.mark.parametrize(
    ("content_type", "is_json"),
    [
        (None, True),
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("application/cloudevents+json", True),
        ("Application/Vnd.Example+JSON", True),
        ("text/plain", False),
        ("application/xml", False),
    ],
)
def test_json_content_types(content_type: str | None, is_json: bool) -> None:
    """JSON media types (and an absent one) are recognised; others are not."""
    assert is_json_content_type(content_type) is is_json
