"""The fleet chaos run (``make chaos``) in its small configuration, as part of ``make test``.

The driver (``tests/chaos/fleet_chaos.py``) owns its broker, fleet and dev home; this test runs
it as a user would and checks its exit code and its JSON report, so that it cannot pass
without having injected the faults it claims and finished the workflows it published.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from longboat.devinfra import provision_kafka, provision_opa
from longboat.errors import InfraError

REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# The small configuration (docs/chaos.md): 1,000 claims at 5 per second, 6 kills (one pair),
# one broker restart, OPA stopped 10 s, one policy publish; bounded at 15 minutes.
WORKFLOWS, KILLS, RATE, DEADLINE_MIN = 1000, 6, 5, 15

pytestmark = [pytest.mark.integration, pytest.mark.timeout(int(DEADLINE_MIN * 60 + 300))]


def _provisioned(cache: Path) -> None:
    """The jars and OPA are cached (``make test`` provisions them first)."""
    try:
        provision_kafka(cache)
        provision_opa(cache)
    except InfraError as e:
        if IN_CI:
            pytest.fail(f"CI=true and infrastructure is missing: {e}", pytrace=False)
        pytest.skip(f"infrastructure not available: {e}")


def test_fleet_survives_kills_broker_restart_opa_stop_and_policy_publish(
    infra_cache: Path, tmp_path: Path
) -> None:
    """Under kills, a broker restart, OPA stopped and a publish every invariant holds."""
    _provisioned(infra_cache)
    report_file = tmp_path / "chaos.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGBOAT_")}
    env["LONGBOAT_CACHE_DIR"] = str(infra_cache)
    argv = [
        *("--workflows", str(WORKFLOWS), "--kills", str(KILLS), "--rate", str(RATE)),
        *("--deadline-min", str(DEADLINE_MIN), "--seed", "7", "--json", str(report_file)),
    ]
    result = subprocess.run(
        [sys.executable, "-m", "tests.chaos.fleet_chaos", *argv],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEADLINE_MIN * 60 + 240,
        check=False,
    )
    shown = result.stdout[-6000:] + result.stderr[-4000:]
    assert result.returncode == 0, shown
    assert "Traceback" not in result.stderr, shown
    report = json.loads(report_file.read_text())
    figures, faults = report["figures"], report["faults"]
    # Not vacuous: the faults happened, the work was done, the OPA window saw requests.
    assert figures["kills"] >= KILLS, shown
    assert figures["kills_in_pairs"] >= 2, shown
    killed = {f["component"] for f in report["faults_log"] if f["kind"] == "kill"}
    assert killed == {"agent", "coordinator", "gateway", "registry"}, shown
    assert (faults.get("broker"), faults.get("opa"), faults.get("policy")) == (1, 1, 1), shown
    assert figures["completed"] == WORKFLOWS, shown
    assert figures["payouts"] == WORKFLOWS, shown
    assert figures["opa_window_fail_closed"] > 0, shown
    assert all(check["ok"] for check in report["checks"]), shown
    assert "RESULT: all invariants held" in result.stdout, shown
