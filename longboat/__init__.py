"""Longboat's kernel: the event envelope, serde, settings, logging, errors and topic names.

The kernel is the lowest layer: it imports no component. The typed Kafka adapter is
:mod:`longboat.kafka`; local infrastructure is :mod:`longboat.devinfra`; errors are
:mod:`longboat.errors`. The components install under this namespace: :mod:`longboat.registry`
← :mod:`longboat.gateway` ← :mod:`longboat.agents` ← :mod:`longboat.coordinator` ←
:mod:`longboat.cli` (the ``longboat`` command). See docs/architecture.md.
"""

from longboat._bodies import ErrorBody, answer, error_answer, read_body
from longboat._codec import RawRecord, RecordCodec, log_record_skipped
from longboat._envelope import CLOUDEVENTS_SPECVERSION, Envelope, new_event_id, utc_now
from longboat._json import MAX_JSON_DEPTH, JsonInvalid, JsonTooLarge, loads_strict
from longboat._json_http import JsonHttpClient
from longboat._logging import configure_logging, get_logger
from longboat._serde import (
    DEFAULT_MAX_EVENT_BYTES,
    EncodedEvent,
    EnvelopeSerde,
    Headers,
    describe_errors,
)
from longboat._service import HttpEndpoint, Middleware, Service
from longboat._settings import KafkaSettings, Settings, load_settings, load_settings_as
from longboat._topics import TopicNames, TopicSpec, validate_agent_name
from longboat._tracing import (
    AttributeValue,
    SpanHandle,
    annotate,
    configure_tracing,
    current_traceparent,
    flush_tracing,
    trace_headers,
    traced,
    tracing_enabled,
)
from longboat._web import merged_metrics, serve_http

__all__ = [
    "CLOUDEVENTS_SPECVERSION",
    "DEFAULT_MAX_EVENT_BYTES",
    "MAX_JSON_DEPTH",
    "AttributeValue",
    "EncodedEvent",
    "Envelope",
    "EnvelopeSerde",
    "ErrorBody",
    "Headers",
    "HttpEndpoint",
    "JsonHttpClient",
    "JsonInvalid",
    "JsonTooLarge",
    "KafkaSettings",
    "Middleware",
    "RawRecord",
    "RecordCodec",
    "Service",
    "Settings",
    "SpanHandle",
    "TopicNames",
    "TopicSpec",
    "annotate",
    "answer",
    "configure_logging",
    "configure_tracing",
    "current_traceparent",
    "describe_errors",
    "error_answer",
    "flush_tracing",
    "get_logger",
    "load_settings",
    "load_settings_as",
    "loads_strict",
    "log_record_skipped",
    "merged_metrics",
    "new_event_id",
    "read_body",
    "serve_http",
    "trace_headers",
    "traced",
    "tracing_enabled",
    "utc_now",
    "validate_agent_name",
]
