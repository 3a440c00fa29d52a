"""A real OpenTelemetry Collector for the tracing tests, built from the Go module proxy.

The collector is a minimal distribution (an OTLP receiver and the file exporter, nothing else)
written out as the collector's builder would generate it, in a small wrapper module committed in
the repository (``tests/tools/otelcol/``): a plain ``go build`` there produces it (about 4 min
cold on two cores, seconds when the Go caches are warm). The file exporter writes every batch it
receives as one line of OTLP JSON, which the tests read back.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from longboat.devinfra._process import spawn, wait_until
from longboat.devinfra._tools import build_with_go

__all__ = [
    "OTELCOL_MARKER",
    "OTELCOL_VERSION",
    "CollectorNode",
    "provision_otelcol",
    "read_spans",
    "start_otelcol",
]

OTELCOL_VERSION = "v0.165.0"
OTELCOL_MARKER = "longboat-otelcol"


def provision_otelcol(cache: Path, module: Path) -> Path:
    """Build the collector into ``cache/otelcol-<version>/`` once; returns the binary's path.

    Args:
        cache: The provisioning cache (``LONGBOAT_CACHE_DIR``).
        module: The wrapper Go module (``tests/tools/otelcol``).
    """
    folder = build_with_go(
        cache,
        f"otelcol-{OTELCOL_VERSION}",
        [OTELCOL_MARKER],
        lambda out: [
            "-C",
            str(module),
            "build",
            "-ldflags",
            "-s -w",
            "-o",
            f"{out}/{OTELCOL_MARKER}",
        ],
        what=f"building the OpenTelemetry Collector {OTELCOL_VERSION} (about 4 min cold)",
    )
    return folder / OTELCOL_MARKER


@dataclass(frozen=True, slots=True)
class CollectorNode:
    """A started collector: its pid, the OTLP/HTTP endpoint, the span file and its log."""

    pid: int
    endpoint: str
    spans: Path
    log: Path


def _config(http_port: int, spans: Path) -> str:
    # JSON is YAML: no YAML writer needed. Internal metrics off: they would bind port 8888.
    return json.dumps(
        {
            "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"127.0.0.1:{http_port}"}}}},
            "exporters": {"file": {"path": str(spans), "flush_interval": "100ms"}},
            "service": {
                "telemetry": {"metrics": {"level": "none"}},
                "pipelines": {"traces": {"receivers": ["otlp"], "exporters": ["file"]}},
            },
        }
    )


def start_otelcol(
    binary: Path, folder: Path, *, http_port: int, timeout_s: float = 60.0
) -> CollectorNode:
    """Start the collector on loopback, receiving OTLP/HTTP and writing spans to a file.

    Ready when the receiver answers an empty export (the collector logs nothing to poll).
    """
    folder.mkdir(parents=True, exist_ok=True)
    spans = folder / "spans.jsonl"
    config = folder / "otelcol.yaml"
    config.write_text(_config(http_port, spans))
    log = folder / "otelcol.log"
    pid = spawn([str(binary), "--config", str(config)], log=log)
    endpoint = f"http://127.0.0.1:{http_port}"
    wait_until(
        lambda: _accepts(f"{endpoint}/v1/traces"),
        pid=pid,
        timeout_s=timeout_s,
        what="the OpenTelemetry Collector",
        log=log,
    )
    return CollectorNode(pid=pid, endpoint=endpoint, spans=spans, log=log)


def _accepts(url: str) -> bool:
    request = urllib.request.Request(  # noqa: S310 (a loopback http URL we built)
        url, data=b"{}", headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 (loopback)
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def read_spans(spans: Path) -> list[dict[str, Any]]:
    """Every span the collector wrote, flattened: OTLP JSON plus ``service`` (its service.name).

    Attributes become a plain ``{key: value}`` dict; ids stay lower-case hex as OTLP JSON has
    them (an empty ``parentSpanId`` means a root span). A line the collector is still writing
    is left for the next read.
    """
    if not spans.exists():
        return []
    found: list[dict[str, Any]] = []
    text = spans.read_text()
    # The collector may be mid-write: a last line without its newline is not read yet.
    for line in text[: text.rfind("\n") + 1].splitlines():
        if not line.strip():
            continue
        for resource_spans in json.loads(line).get("resourceSpans", []):
            resource = _attributes(resource_spans.get("resource", {}).get("attributes", []))
            for scope in resource_spans.get("scopeSpans", []):
                for span in scope.get("spans", []):
                    found.append(
                        {
                            **span,
                            "attributes": _attributes(span.get("attributes", [])),
                            "service": resource.get("service.name"),
                        }
                    )
    return found


def _attributes(items: list[dict[str, Any]]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for item in items:
        value = item.get("value", {})
        for kind in ("stringValue", "boolValue", "intValue", "doubleValue"):
            if kind in value:
                raw = value[kind]
                # OTLP JSON writes 64-bit integers as strings.
                flat[item["key"]] = int(raw) if kind == "intValue" else raw
                break
    return flat
