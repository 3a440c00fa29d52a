"""OpenTelemetry traces across the fleet, off unless the standard ``OTEL_*`` variables ask.

Every hop continues the W3C ``traceparent`` it was given: the envelope's (a Kafka hop), or the
``traceparent`` HTTP header (an agent's call to the gateway). Components make spans with one
call, ``with traced("name", attributes=...) as span:``, and never import OpenTelemetry.

Tracing is on in a process when, at its first service's start, ``OTEL_SDK_DISABLED`` is not
``true`` and either ``OTEL_TRACES_EXPORTER`` names ``otlp`` or (that variable unset) an OTLP
endpoint is set (``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``).
Then the OpenTelemetry SDK (the ``otel`` extra) exports over OTLP/HTTP through a batch span
processor, flushed when a service stops; the SDK itself reads the other standard variables
(endpoint, headers, ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER``,
``OTEL_BSP_*``). Each service names itself (``longboat-gateway``, ``longboat-agent-<name>``)
unless those variables name it.

Off, nothing of OpenTelemetry is imported and :func:`traced` returns one shared, inert context
manager: no span objects, no allocations beyond the call.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Final, Literal

from longboat._logging import get_logger

if TYPE_CHECKING:
    from aiohttp import web
    from opentelemetry.context import Context
    from opentelemetry.trace import Span, Tracer

__all__ = [
    "AttributeValue",
    "SpanHandle",
    "SpanKindName",
    "annotate",
    "configure_tracing",
    "current_traceparent",
    "flush_tracing",
    "trace_headers",
    "traced",
    "tracing_enabled",
    "tracing_middlewares",
    "tracing_wanted",
    "untraced",
]

_log = get_logger("tracing")

AttributeValue = str | bool | int | float
SpanKindName = Literal["internal", "server", "client", "producer", "consumer"]
# Health and metrics polls, and the registry heartbeats every agent instance sends every few
# seconds, would bury the real traffic under a trace each: never traced.
_UNTRACED_PATHS: Final = frozenset({"/livez", "/readyz", "/metrics"})
_UNTRACED_SUFFIX: Final = "/heartbeat"


class SpanHandle:
    """What ``with traced(...) as span`` gives: set attributes, mark a failure, read its id.

    Off, the one shared handle ignores everything and has no traceparent.
    """

    __slots__ = ("_span",)

    def __init__(self, span: Span | None) -> None:
        """Wrap an OpenTelemetry span (``None``: the inert handle of tracing off)."""
        self._span = span

    def set(self, key: str, value: AttributeValue | None) -> None:
        """Set one attribute (a ``None`` value is skipped)."""
        if self._span is not None and value is not None:
            self._span.set_attribute(key, value)

    def update(self, attributes: Mapping[str, AttributeValue | None]) -> None:
        """Set several attributes (``None`` values are skipped)."""
        for key, value in attributes.items():
            self.set(key, value)

    def fail(self, reason: str) -> None:
        """Mark the span as an error without an exception (a denial, a 5xx)."""
        if self._span is not None:
            from opentelemetry.trace import Status, StatusCode

            self._span.set_status(Status(StatusCode.ERROR, reason))

    @property
    def traceparent(self) -> str | None:
        """This span as a W3C ``traceparent`` (``None`` when tracing is off)."""
        if self._span is None:
            return None
        return _format(self._span)


_NO_SPAN: Final = SpanHandle(None)
_OFF: Final[AbstractContextManager[SpanHandle]] = nullcontext(_NO_SPAN)
_NO_HEADERS: Final[Mapping[str, str]] = {}


class _State:
    tracer: Tracer | None = None
    configured = False


def tracing_wanted(environ: Mapping[str, str]) -> bool:
    """Whether the standard variables in ``environ`` ask for OTLP traces (see the module doc)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = environ.get("OTEL_TRACES_EXPORTER")
    if exporters is not None:
        return "otlp" in {e.strip().lower() for e in exporters.split(",")}
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def configure_tracing(service_name: str, *, environ: Mapping[str, str] | None = None) -> bool:
    """Switch tracing on for this process if the variables ask; the first call decides.

    Args:
        service_name: The default ``service.name`` (``OTEL_SERVICE_NAME`` or
            ``OTEL_RESOURCE_ATTRIBUTES`` win over it).
        environ: The variables to read (default ``os.environ``).

    Returns:
        Whether tracing is on.
    """
    if _State.configured:
        return _State.tracer is not None
    _State.configured = True
    env = os.environ if environ is None else environ
    if not tracing_wanted(env):
        return False
    try:
        from longboat._tracing_sdk import start_sdk
    except ImportError as e:
        # Observability must not stop a service: say loudly what is missing and carry on.
        _log.error(
            "tracing_unavailable",
            reason=f"OTEL_* variables ask for traces but the SDK is missing ({e.name})",
            fix="pip install 'longboat[otel]'",
        )
        return False
    _State.tracer = start_sdk(service_name, env)
    _log.info("tracing_enabled", service=service_name)
    return True


def tracing_enabled() -> bool:
    """Whether this process exports spans."""
    return _State.tracer is not None


def traced(
    name: str,
    *,
    traceparent: str | None = None,
    kind: SpanKindName = "internal",
    attributes: Mapping[str, AttributeValue | None] | None = None,
    start_ns: int | None = None,
) -> AbstractContextManager[SpanHandle]:
    """A span around the ``with`` block, the current one's child (or ``traceparent``'s).

    An exception leaving the block is recorded on the span and marks it as an error.

    Args:
        name: The span's name.
        traceparent: Continue this remote parent (an envelope's, a header's) instead of the
            current span; ``None`` or malformed: the current span (or a new trace).
        kind: The OpenTelemetry span kind.
        attributes: Attributes set at the start (``None`` values are skipped).
        start_ns: When it started (epoch ns), for a span recorded after the fact.
    """
    tracer = _State.tracer
    if tracer is None:
        return _OFF
    return _span(tracer, name, traceparent, kind, attributes or {}, start_ns)


@contextmanager
def _span(
    tracer: Tracer,
    name: str,
    traceparent: str | None,
    kind: SpanKindName,
    attributes: Mapping[str, AttributeValue | None],
    start_ns: int | None,
) -> Iterator[SpanHandle]:
    from opentelemetry.trace import SpanKind

    with tracer.start_as_current_span(
        name,
        context=_remote_parent(traceparent),
        kind=SpanKind[kind.upper()],
        attributes={k: v for k, v in attributes.items() if v is not None},
        start_time=start_ns,
    ) as span:
        yield SpanHandle(span)


def current_traceparent() -> str | None:
    """The current span as a W3C ``traceparent``, or ``None`` (off, or no span)."""
    if _State.tracer is None:
        return None
    from opentelemetry.trace import get_current_span

    span = get_current_span()
    return _format(span) if span.get_span_context().is_valid else None


def trace_headers() -> Mapping[str, str]:
    """``{"traceparent": ...}`` for an outgoing HTTP request, or an empty mapping."""
    parent = current_traceparent()
    return _NO_HEADERS if parent is None else {"traceparent": parent}


def flush_tracing() -> None:
    """Export the spans still buffered (a service stopping); nothing when off."""
    if _State.tracer is not None:
        from longboat._tracing_sdk import flush_sdk

        flush_sdk()


def tracing_middlewares() -> list[Callable[..., Awaitable[web.StreamResponse]]]:
    """A server span per HTTP request (continuing its ``traceparent``), or none when off."""
    if _State.tracer is None:
        return []
    from longboat._tracing_http import server_span  # aiohttp: only for a service serving HTTP

    return [server_span]


def untraced(path: str) -> bool:
    """Whether requests to ``path`` get no server span (probes, metrics, heartbeats)."""
    return path in _UNTRACED_PATHS or path.endswith(_UNTRACED_SUFFIX)


def _format(span: Span) -> str:
    context = span.get_span_context()
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def _remote_parent(traceparent: str | None) -> Context | None:
    """An OpenTelemetry context whose current span is the remote ``traceparent``."""
    if traceparent is None:
        return None
    parts = traceparent.split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    try:
        trace_id, span_id, flags = int(parts[1], 16), int(parts[2], 16), int(parts[3], 16)
    except ValueError:
        return None
    if trace_id == 0 or span_id == 0:
        return None
    from opentelemetry.trace import (
        NonRecordingSpan,
        SpanContext,
        TraceFlags,
        set_span_in_context,
    )

    remote = SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(flags & 0xFF))
    return set_span_in_context(NonRecordingSpan(remote))


def annotate(attributes: Mapping[str, AttributeValue | None]) -> None:
    """Set attributes on the current span (a step's, a request's); nothing when off."""
    if _State.tracer is None:
        return
    from opentelemetry.trace import get_current_span

    SpanHandle(get_current_span()).update(attributes)
