"""Tracing is off unless the OTEL_* variables ask, and off costs no OpenTelemetry import."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from longboat._tracing import _OFF, SpanHandle, traced, tracing_wanted

# What a process runs with tracing off: the kernel's whole no-op surface, the agent runtime's
# step and run spans, then a report of which OpenTelemetry modules got imported.
_OFF_PROBE = """
import json, sys
import longboat, longboat.agents
from longboat import annotate, configure_tracing, current_traceparent, flush_tracing
from longboat import trace_headers, traced, tracing_enabled
from longboat._tracing import tracing_middlewares
from longboat.agents._step_spans import finish_step_span, step_span
assert configure_tracing("longboat-probe") is False and not tracing_enabled()
with traced("x", traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01") as span:
    span.set("a", 1)
    annotate({"b": 2})
    assert span.traceparent is None and current_traceparent() is None
with step_span("run", 0, "longboat.llm", ({"model": "m"},)) as step:
    finish_step_span(step, "longboat.llm", {"prompt_tokens": 1}, replayed=False, decision_id=None)
assert dict(trace_headers()) == {} and tracing_middlewares() == []
flush_tracing()
print(json.dumps(sorted(m for m in sys.modules if m.startswith("opentelemetry"))))
"""


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    return {**env, **extra}


def _imported_with(env: dict[str, str], probe: str = _OFF_PROBE) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    found: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_tracing_off_imports_nothing_from_opentelemetry() -> None:
    """With no OTEL_* variable, the kernel and agent runtime import no OpenTelemetry module."""
    assert _imported_with(_clean_env()) == []


def test_sdk_disabled_wins_over_an_endpoint() -> None:
    """OTEL_SDK_DISABLED=true keeps tracing off (and imports nothing) even with an endpoint."""
    env = _clean_env(OTEL_SDK_DISABLED="true", OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9")
    assert _imported_with(env) == []


def test_no_package_imports_the_sdk_when_off() -> None:
    """No Longboat package imports the OpenTelemetry SDK or exporter at import time.

    (The gateway's MCP library imports the OpenTelemetry *API* itself; the SDK is ours alone.)
    """
    probe = (
        "import json, sys\n"
        "import longboat.cli, longboat.gateway, longboat.coordinator, longboat.registry\n"
        "print(json.dumps(sorted(m for m in sys.modules"
        " if m.startswith(('opentelemetry.sdk', 'opentelemetry.exporter')))))\n"
    )
    assert _imported_with(_clean_env(), probe) == []


@pytest.mark.parametrize(
    ("env", "wanted"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console, otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"}, False),
        ({"OTEL_SDK_DISABLED": "TRUE", "OTEL_TRACES_EXPORTER": "otlp"}, False),
        ({"OTEL_SDK_DISABLED": "false", "OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, False),
    ],
)
def test_tracing_wanted_follows_the_standard_variables(env: dict[str, str], wanted: bool) -> None:
    """Only an OTLP exporter or endpoint turns tracing on; OTEL_SDK_DISABLED turns it off."""
    assert tracing_wanted(env) is wanted


def test_off_path_is_one_shared_inert_context_manager() -> None:
    """Off, every traced() call returns the same object: no span is built per call."""
    assert traced("a") is _OFF
    assert traced("b", traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01") is _OFF
    with traced("c") as span:
        assert isinstance(span, SpanHandle)
        span.fail("ignored")
        assert span.traceparent is None


_ON_PROBE = """
import json
from longboat import configure_tracing, current_traceparent, trace_headers, traced
assert configure_tracing("longboat-probe")
parent = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"
with traced("run", traceparent=parent):
    inner = current_traceparent()
    headers = dict(trace_headers())
with traced("bad", traceparent="00-zz-1-01") as bad:
    fresh = bad.traceparent
print(json.dumps({"inner": inner, "headers": headers, "fresh": fresh}))
"""


def test_on_a_span_continues_the_given_traceparent() -> None:
    """On, a span continues the trace id of the traceparent it is given; a bad one starts anew."""
    # Nothing listens on port 9: the exporter's failure is logged at exit, never raised.
    env = _clean_env(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9", OTEL_BSP_SCHEDULE_DELAY="1")
    done = subprocess.run(
        [sys.executable, "-c", _ON_PROBE], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    version, trace_id, span_id, flags = seen["inner"].split("-")
    assert (version, trace_id, flags) == ("00", "ab" * 16, "01")
    assert span_id != "cd" * 8  # a new child span, not the remote parent itself
    assert seen["headers"] == {"traceparent": seen["inner"]}
    assert seen["fresh"].split("-")[1] != "ab" * 16
