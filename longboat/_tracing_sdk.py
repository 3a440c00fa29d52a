"""The OpenTelemetry SDK behind :mod:`longboat._tracing`, imported only when tracing is on."""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from longboat._logging import get_logger

__all__ = ["flush_sdk", "start_sdk"]

_log = get_logger("tracing")
_FLUSH_TIMEOUT_MS = 5000


class _Provider:
    current: TracerProvider | None = None


def start_sdk(service_name: str, environ: Mapping[str, str]) -> trace.Tracer:
    """A tracer exporting over OTLP/HTTP in batches; the provider becomes the global one.

    Global, so that spans a handler makes with OpenTelemetry itself nest under Longboat's.
    """
    protocol = environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
    )
    if protocol and protocol != "http/protobuf":
        _log.warning(
            "tracing_protocol_unsupported",
            reason=f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol}: only http/protobuf is built in",
            fix="point the endpoint at the collector's OTLP/HTTP port (4318)",
        )
    # Resource.create reads OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME; the service's
    # own name applies only when neither names it (the SDK's fallback is unknown_service).
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service_name}))
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _Provider.current = provider
    return provider.get_tracer("longboat")


def flush_sdk() -> None:
    """Export what the batch processor still holds (bounded: a dead collector cannot hang us)."""
    if _Provider.current is not None:
        _Provider.current.force_flush(_FLUSH_TIMEOUT_MS)
