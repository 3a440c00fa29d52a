"""`make demo`'s script: a claim workflow end to end on the real broker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_demo_runs_the_claim_workflow_end_to_end(cli_env: dict[str, str]) -> None:
    """Both claims complete; the large one waits for and gets an approval; each is paid once."""
    result = subprocess.run(
        [sys.executable, "-m", "examples.demo"],  # examples/ is a package: its agents import
        env=cli_env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "claim-2 waits for a human" in out
    assert out.count("WorkflowCompleted") == 2
    assert '"signal": "approve", "by": "operator"' in out
    payments = out.split("payments made (exactly once each):")[1].split()
    assert sorted(p for p in payments if p.startswith("claim-")) == ["claim-1:", "claim-2:"]
    assert "Traceback" not in result.stderr
