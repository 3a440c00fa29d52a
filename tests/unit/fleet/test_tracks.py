"""One agent, two tracks: an active entry and at most one canary of another version beside it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from longboat.cli import cli
from longboat.errors import ConfigError
from longboat.fleet import load_fleet, parse_fleet

REPO = Path(__file__).resolve().parents[3]
CANARY = REPO / "tests" / "helm" / "fleets" / "canary.yaml"  # the chart tests' canary fleet

ACTIVE = {"name": "mod", "module": "m:agent", "version": "1.0"}
CANARY_ENTRY = {"name": "mod", "module": "m:agent", "version": "1.1", "status": "canary"}


def _text(*agents: Mapping[str, object], partitions: int = 3) -> str:
    return yaml.safe_dump({"name": "f", "kafka": {"partitions": partitions}, "agents": agents})


def _problem(text: str, field: str) -> str:
    with pytest.raises(ConfigError) as raised:
        parse_fleet(text, source="fleet.yaml")
    lines = str(raised.value).splitlines()
    line = next((x for x in lines if x.startswith(f"fleet.yaml: {field}")), None)
    assert line is not None, lines
    assert " — " in line, line
    return line


def test_the_chart_tests_canary_fleet_is_valid() -> None:
    """The file the chart renders with a canary StatefulSet is one `fleet up` accepts too."""
    fleet = load_fleet(CANARY)
    active, canary = fleet.agents
    assert (active.name, active.status, active.version) == ("moderator", "active", "1.0")
    assert (canary.name, canary.status, canary.version) == ("moderator", "canary", "1.1")


def test_instance_names_carry_the_track_like_the_charts_pods() -> None:
    """Active instances are NAME-i, canary ones NAME-canary-i: static member ids never collide."""
    active, canary = load_fleet(CANARY).agents
    assert [active.instance(i) for i in range(active.replicas)] == ["moderator-0", "moderator-1"]
    assert canary.instance(0) == "moderator-canary-0"
    assert (active.stem, canary.stem) == ("moderator", "moderator-canary")


def test_a_canary_may_run_other_code() -> None:
    """The canary's module may differ from the active's: same name, same consumer group."""
    fleet = parse_fleet(_text(ACTIVE, {**CANARY_ENTRY, "module": "m2:agent"}), source="f.yaml")
    assert [a.module for a in fleet.agents] == ["m:agent", "m2:agent"]


def test_two_actives_are_refused() -> None:
    """A second active entry of one name: the fix is to make it the canary."""
    line = _problem(_text(ACTIVE, {**ACTIVE, "version": "2"}), "agents.1.name:")
    assert "listed twice as active" in line
    assert "status: canary" in line


def test_two_canaries_are_refused() -> None:
    """One canary at a time per agent."""
    line = _problem(_text(ACTIVE, CANARY_ENTRY, {**CANARY_ENTRY, "version": "1.2"}), "agents.2.")
    assert "second canary" in line
    assert "remove one" in line


def test_a_canary_with_the_actives_version_is_refused() -> None:
    """A canary is another version: the same version twice would be one registry entry."""
    line = _problem(_text(ACTIVE, {**CANARY_ENTRY, "version": "1.0"}), "agents.1.version:")
    assert "new version" in line


def test_a_canary_without_an_active_entry_is_refused() -> None:
    """A canary runs beside an active version; alone it is just an agent with a status."""
    line = _problem(_text(CANARY_ENTRY), "agents.0.status:")
    assert "no active entry" in line


def test_a_canary_whose_instance_names_are_another_agents_is_refused() -> None:
    """An agent named mod-canary would share instance and object names with mod's canary."""
    other = {**ACTIVE, "name": "mod-canary"}
    line = _problem(_text(ACTIVE, CANARY_ENTRY, other), "agents.1.name:")
    assert "rename that agent" in line


def test_active_and_canary_instances_together_fit_the_partitions() -> None:
    """Both tracks share one consumer group: their instances together beyond partitions idle."""
    text = _text({**ACTIVE, "replicas": 2}, {**CANARY_ENTRY, "replicas": 2}, partitions=3)
    line = _problem(text, "agents.1.replicas:")
    assert "2 active + 2 canary" in line
    assert "raise kafka.partitions" in line


def test_cli_validate_accepts_the_canary_fleet_and_refuses_two_canaries(tmp_path: Path) -> None:
    """`fleet validate`: exit 0 for the canary fleet, exit 2 naming the field for two canaries."""
    runner = CliRunner()
    ok = runner.invoke(cli, ["fleet", "validate", "-f", str(CANARY)])
    assert ok.exit_code == 0, ok.output
    assert "fleet canary, 1 agents + 1 canary (3 instances)" in ok.output
    bad = tmp_path / "fleet.yaml"
    bad.write_text(_text(ACTIVE, CANARY_ENTRY, {**CANARY_ENTRY, "version": "1.2"}))
    refused = runner.invoke(cli, ["fleet", "validate", "-f", str(bad)])
    assert refused.exit_code == 2
    assert f"{bad}: agents.2.status:" in refused.output
    assert "Traceback" not in refused.output
