"""The event envelope: CloudEvents 1.0 attributes plus Longboat's workflow extensions."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Final, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, model_validator

__all__ = [
    "CLOUDEVENTS_SPECVERSION",
    "Envelope",
    "is_json_content_type",
    "new_event_id",
    "utc_now",
]

CLOUDEVENTS_SPECVERSION: Final = "1.0"

# W3C Trace Context: version-traceid-parentid-flags, lower-case hex.
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def is_json_content_type(content_type: str | None) -> bool:
    """Whether a media type is JSON (``application/json``, ``*/*+json``); absent means JSON.

    CloudEvents treats an event without ``datacontenttype`` as JSON, and so does the binding.
    """
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("application/json", "text/json") or media.endswith("+json")


def new_event_id() -> str:
    """A fresh, globally unique event id."""
    return str(uuid.uuid4())


def utc_now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def _as_utc(value: datetime) -> datetime:
    # Naive datetimes are ambiguous across machines: refuse them instead of guessing a zone.
    if value.tzinfo is None:
        raise ValueError("time must carry a time zone (e.g. 2026-01-01T00:00:00Z)")
    return value.astimezone(UTC)


def _traceparent(value: str | None) -> str | None:
    if value is not None and not _TRACEPARENT.match(value):
        raise ValueError("traceparent must be a W3C trace context: 00-<32 hex>-<16 hex>-<2 hex>")
    return value


NonEmpty = Annotated[str, Field(min_length=1, max_length=1024)]
OptionalId = Annotated[str | None, Field(default=None, min_length=1, max_length=1024)]


class Envelope(BaseModel):
    """One event, as stored in every Longboat topic.

    The attributes are CloudEvents 1.0 (``id``, ``source``, ``type``, ``specversion``,
    ``subject``, ``time``, ``datacontenttype``, ``dataschema``, ``data``) plus the extensions
    ``workflowid``, ``correlationid``, ``causationid`` and ``traceparent``.

    ``data`` is any JSON value when ``datacontenttype`` is JSON (the default), and a string
    (or nothing) for any other media type: the Kafka binding writes the data alone as the record
    value, so only text can stand for a non-JSON payload.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

    id: NonEmpty = Field(default_factory=new_event_id)
    type: NonEmpty
    source: NonEmpty
    specversion: Literal["1.0"] = CLOUDEVENTS_SPECVERSION
    subject: OptionalId = None
    time: Annotated[datetime, AfterValidator(_as_utc)] = Field(default_factory=utc_now)
    datacontenttype: NonEmpty = "application/json"
    dataschema: OptionalId = None
    data: JsonValue = None
    workflowid: OptionalId = None
    correlationid: OptionalId = None
    causationid: OptionalId = None
    traceparent: Annotated[str | None, AfterValidator(_traceparent)] = None

    @model_validator(mode="after")
    def _data_fits_content_type(self) -> Self:
        if is_json_content_type(self.datacontenttype) or self.data is None:
            return self
        if not isinstance(self.data, str):
            raise ValueError(
                f"data must be a string when datacontenttype is {self.datacontenttype!r}; "
                "for structured data use datacontenttype application/json"
            )
        return self

    def caused(self, *, type: str, source: str, data: JsonValue = None) -> Self:
        """A new event caused by this one: same workflow, correlation and trace; causation = id.

        Args:
            type: The new event's type.
            source: The new event's source.
            data: The new event's payload.
        """
        return self.__class__(
            type=type,
            source=source,
            data=data,
            subject=self.subject,
            workflowid=self.workflowid,
            correlationid=self.correlationid or self.id,
            causationid=self.id,
            traceparent=self.traceparent,
        )
