"""`longboat workflows validate`: ok lines for good files, file/field errors and exit 2 for bad."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from longboat.cli import cli

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "claims" / "workflows"


def test_validate_good_and_bad(tmp_path: Path) -> None:
    """The example validates; a bad file fails the command with its path and field."""
    good = CliRunner().invoke(cli, ["workflows", "validate", str(EXAMPLES)])
    assert good.exit_code == 0, good.output
    assert "claim-intake v1, 7 steps" in good.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\nversion: 1\ntrigger: {topic: t, type: e}\nsteps: [{id: a, timer: {seconds: -1}}]"
    )
    result = CliRunner().invoke(cli, ["workflows", "validate", str(bad), str(EXAMPLES)])
    assert result.exit_code == 2
    assert f"{bad}: steps.0.timer.timer.seconds: Input should be greater than 0" in result.output
    assert "Traceback" not in result.output
