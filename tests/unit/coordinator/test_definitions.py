"""Workflow definitions and expressions: valid ones load, bad ones name file, field and fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import JsonValue

from longboat.coordinator._definitions import DefinitionSet, ParallelStep, load_definition
from longboat.coordinator._expressions import ExpressionError, check, evaluate, render
from longboat.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[3] / "examples/claims/workflows/claim-intake.yaml"


def test_example_loads_with_every_step_kind() -> None:
    """The shipped example has a task, an approval, a parallel join, a timer and compensation."""
    definition = load_definition(EXAMPLE)
    assert [s.kind for s in definition.steps] == ["task", "approval", "parallel", "timer", "task"]
    assert definition.step_ids() == [
        "triage",
        "review",
        "checks",
        "fraud",
        "coverage",
        "cool-off",
        "pay",
    ]
    parallel = definition.steps[2]
    assert isinstance(parallel, ParallelStep)
    assert [b.task.agent for b in parallel.parallel] == ["fraud", "coverage"]


HEAD = "name: x\nversion: 1\ntrigger: {topic: t, type: e}\n"
TIMER = "{id: a, timer: {seconds: 1}}"


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (HEAD + "steps: []", "steps"),
        (HEAD.replace("version: 1", "version: 0") + f"steps: [{TIMER}]", "version"),
        (HEAD + "steps: [{id: a, task: {agent: Bad Name}}]", "agent"),
        (HEAD + "steps: [{id: a, when: 'stepz.b', timer: {seconds: 1}}]", "unknown name 'stepz'"),
        (HEAD + "steps: [{id: a, task: {agent: b, input: {x: '${event.(}'}}}]", "does not parse"),
        (HEAD + f"steps: [{TIMER}, {TIMER}]", "used twice"),
        (HEAD + "steps: [{id: a, timer: {seconds: 1}, surprise: 1}]", "surprise"),
        (
            HEAD.replace("type: e}", "type: e, workflow_id: claim}") + f"steps: [{TIMER}]",
            "workflow_id must be an expression",
        ),
        ("{not: yaml: at all", "not valid YAML"),
    ],
)
def test_bad_definitions_are_refused_with_file_and_field(
    tmp_path: Path, yaml_text: str, message: str
) -> None:
    """Each mistake is a ConfigError that names the file and what is wrong."""
    path = tmp_path / "wf.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError, match=message) as info:
        load_definition(path)
    assert str(path) in str(info.value)


def test_definition_set_picks_the_newest_version_per_trigger(tmp_path: Path) -> None:
    """Versions coexist; new workflows use the newest; the same version twice is refused."""
    for version in (1, 2):
        (tmp_path / f"v{version}.yaml").write_text(
            HEAD.replace("name: x", "name: w").replace("version: 1", f"version: {version}")
            + f"steps: [{TIMER}]"
        )
    definitions = DefinitionSet.from_dir(tmp_path)
    assert [d.version for d in definitions.latest_for("t", "e")] == [2]
    assert definitions.get("w", 1) is not None
    assert definitions.latest_for("t", "other") == []
    (tmp_path / "dup.yaml").write_text((tmp_path / "v2.yaml").read_text())
    with pytest.raises(ConfigError, match="defined twice"):
        DefinitionSet.from_dir(tmp_path)


def test_expressions_are_safe_and_useful() -> None:
    """Attribute and index access, comparisons and a few functions work; nothing else does."""
    names: dict[str, JsonValue] = {
        "event": {"data": {"amount": 1500, "tags": ["a", "b"]}},
        "steps": {},
        "workflow": {"id": "w"},
    }
    assert evaluate("event.data.amount > 1000 and len(event.data.tags) == 2", names) is True
    assert evaluate("event.data['amount'] * 2", names) == 3000
    assert render(
        {"a": "${event.data.tags}", "b": "literal ${x}", "c": [1, "${workflow.id}"]}, names
    ) == {
        "a": ["a", "b"],
        "b": "literal ${x}",
        "c": [1, "w"],
    }
    for forbidden in (
        "event.data.items()",
        "event.__class__",
        "__import__('os')",
        "open('/etc/passwd')",
    ):
        with pytest.raises(ExpressionError):
            evaluate(forbidden, names)
    with pytest.raises(ExpressionError, match="failed"):
        evaluate("event.data.missing > 1", names)
    with pytest.raises(ExpressionError, match="unknown name"):
        check("os.system('x')")
