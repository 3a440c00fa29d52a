"""Longboat's kernel: the event envelope, serde, settings, logging, errors and topic names.

The kernel is the lowest layer: it imports no component. The typed Kafka adapter is
:mod:`longboat.kafka`; local infrastructure is :mod:`longboat.devinfra`; errors are
:mod:`longboat.errors`. The components install under this namespace: :mod:`longboat.registry`
← :mod:`longboat.gateway` ← :mod:`longboat.agents` ← :mod:`longboat.coordinator` ←
:mod:`longboat.cli` (the ``longboat`` command). See docs/architecture.md.

The names below are imported on first use (module ``__getattr__``): a process pays only for what
it touches, so ``longboat run agent`` does not import the HTTP client, the request bodies or the
tracing SDK before it is at work (docs/benchmarks.md, "Restart").
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Where each public name lives; ``__all__`` below is the pinned list of the same names.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "longboat._bodies": ("ErrorBody", "answer", "error_answer", "read_body"),
    "longboat._codec": ("RawRecord", "RecordCodec", "log_record_skipped"),
    "longboat._envelope": ("CLOUDEVENTS_SPECVERSION", "Envelope", "new_event_id", "utc_now"),
    "longboat._json": ("MAX_JSON_DEPTH", "JsonInvalid", "JsonTooLarge", "loads_strict"),
    "longboat._json_http": ("JsonHttpClient",),
    "longboat._logging": ("configure_logging", "get_logger"),
    "longboat._serde": (
        "DEFAULT_MAX_EVENT_BYTES",
        "EncodedEvent",
        "EnvelopeSerde",
        "Headers",
        "describe_errors",
    ),
    "longboat._service": ("HttpEndpoint", "Middleware", "Service"),
    "longboat._settings": ("KafkaSettings", "Settings", "load_settings", "load_settings_as"),
    "longboat._topics": ("TopicNames", "TopicSpec", "validate_agent_name"),
    "longboat._tracing": (
        "AttributeValue",
        "SpanHandle",
        "annotate",
        "configure_tracing",
        "current_traceparent",
        "flush_tracing",
        "trace_headers",
        "traced",
        "tracing_enabled",
    ),
    "longboat._web": ("merged_metrics", "serve_http"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (then the name is a plain attribute)."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'longboat' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULE_OF})


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
