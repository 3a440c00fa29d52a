"""Step spans under a real OpenTelemetry Collector: replayed steps marked, outputs parented."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from typing import Any

from longboat.devinfra._otelcol import CollectorNode, read_spans
from tests.helpers import assert_eventually_sync


def test_a_replayed_step_is_marked_and_outputs_carry_the_run_span(
    collector: CollectorNode,
) -> None:
    """After a crash, the replay's LLM span says replayed, its tool span not; emits are children."""
    trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.endpoint
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.integration.agents.traced_probe",
            f"00-{trace_id}-{parent}-01",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    emitted = json.loads(done.stdout.strip().splitlines()[-1])["emitted"]

    def spans() -> list[dict[str, Any]]:
        return [s for s in read_spans(collector.spans) if s["traceId"] == trace_id]

    found = assert_eventually_sync(
        spans,
        lambda s: len([x for x in s if x["name"] == "invoke_agent probe"]) == 2,
        timeout_s=30,
        what="both runs' spans at the collector",
    )
    runs = sorted(
        (s for s in found if s["name"] == "invoke_agent probe"),
        key=lambda s: int(s["startTimeUnixNano"]),
    )
    assert {s["parentSpanId"] for s in runs} == {parent}  # both continue the input's trace
    assert {s["service"] for s in found} == {"longboat-agent-probe"}
    replay = runs[1]
    steps = {s["name"]: s for s in found if s.get("parentSpanId") == replay["spanId"]}
    assert steps["chat longboat-local"]["attributes"]["longboat.step.replayed"] is True
    assert steps["execute_tool pay"]["attributes"]["longboat.step.replayed"] is False
    assert steps["execute_tool pay"]["attributes"]["gen_ai.tool.name"] == "pay"
    # What the replay emitted carries the replay's run span: its consumer continues from there.
    assert emitted == [f"00-{trace_id}-{replay['spanId']}-01"]
