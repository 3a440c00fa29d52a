"""Workflow definitions: YAML validated by pydantic, refused with file, field and fix.

```yaml
name: claim-intake
version: 2
trigger: {topic: claims.submitted, type: claims.submitted, workflow_id: "${event.data.claim_id}"}
steps:
  - id: triage
    task: {agent: triage, input: {claim: "${event.data}"}}
    retry: {max_attempts: 3, backoff_s: 2}
  - id: review
    when: "steps.triage.output.label == 'complex'"
    approval: {prompt: "Pay it?", timeout_s: 86400, on_timeout: escalate, escalate_to: leads}
  - id: cool-off
    timer: {seconds: 60}
  - id: checks
    parallel:
      - {id: fraud, task: {agent: fraud, input: {claim: "${event.data}"}}}
      - {id: coverage, task: {agent: coverage, input: {claim: "${event.data}"}}}
  - id: pay
    task: {agent: payments, input: {amount: "${event.data.amount}"}}
    compensate: {agent: notifier, input: {claim: "${event.data.claim_id}", reason: "not paid"}}
```
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    field_validator,
    model_validator,
)

from longboat import describe_errors, validate_agent_name
from longboat.coordinator._expressions import ExpressionError, check
from longboat.errors import ConfigError

__all__ = [
    "ApprovalStep",
    "Definition",
    "DefinitionSet",
    "ParallelStep",
    "Step",
    "TaskSpec",
    "TaskStep",
    "TimerStep",
    "load_definition",
]

_STEP_ID = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _expressions_in(value: JsonValue) -> list[str]:
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return [value[2:-1]]
    if isinstance(value, dict):
        return [e for v in value.values() for e in _expressions_in(v)]
    if isinstance(value, list):
        return [e for v in value for e in _expressions_in(v)]
    return []


def _check_all(value: JsonValue) -> JsonValue:
    for expression in _expressions_in(value):
        try:
            check(expression)
        except ExpressionError as e:
            raise ValueError(str(e)) from e
    return value


class TaskSpec(_Model):
    """Work for a specialist agent: its name and the input mapping (``${expr}`` strings)."""

    agent: str
    input: JsonValue = None

    @field_validator("agent")
    @classmethod
    def _agent(cls, value: str) -> str:
        try:
            return validate_agent_name(value)
        except ConfigError as e:
            raise ValueError(str(e)) from e

    @field_validator("input")
    @classmethod
    def _input(cls, value: JsonValue) -> JsonValue:
        return _check_all(value)


class TaskRetry(_Model):
    """How often a failed task is handed out again, and how long to wait in between."""

    max_attempts: int = Field(default=1, ge=1, le=20)
    backoff_s: float = Field(default=1.0, ge=0, le=86_400)
    multiplier: float = Field(default=2.0, ge=1, le=10)


class _StepBase(_Model):
    id: str
    when: str | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _STEP_ID.match(value):
            raise ValueError(f"step id {value!r}: use lower-case letters, digits, '-' or '_'")
        return value

    @field_validator("when")
    @classmethod
    def _when(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                check(value)
            except ExpressionError as e:
                raise ValueError(str(e)) from e
        return value


class TaskStep(_StepBase):
    """Hand work to a specialist and wait for its result."""

    kind: Literal["task"] = "task"
    task: TaskSpec
    retry: TaskRetry = TaskRetry()
    compensate: TaskSpec | None = None


class Approval(_Model):
    """A human decision: approve or reject, with a timeout and what then happens."""

    prompt: str = Field(min_length=1)
    timeout_s: float | None = Field(default=None, gt=0)
    on_timeout: Literal["escalate", "reject", "approve"] = "escalate"
    escalate_to: str | None = None


class ApprovalStep(_StepBase):
    """Pause the workflow until a signal approves or rejects it (no process waits)."""

    kind: Literal["approval"] = "approval"
    approval: Approval


class Timer(_Model):
    """A delay."""

    seconds: float = Field(gt=0, le=365 * 86_400)


class TimerStep(_StepBase):
    """Wait, then continue."""

    kind: Literal["timer"] = "timer"
    timer: Timer


class ParallelStep(_StepBase):
    """Several tasks at once; continues when all have finished (a join)."""

    kind: Literal["parallel"] = "parallel"
    parallel: list[TaskStep] = Field(min_length=2)


def _kind(value: object) -> str:
    if isinstance(value, dict):
        for kind in ("task", "approval", "timer", "parallel"):
            if kind in value:
                return kind
    return "task"


Step = Annotated[TaskStep | ApprovalStep | TimerStep | ParallelStep, Field(discriminator="kind")]


class Trigger(_Model):
    """Which events start a workflow."""

    topic: str = Field(min_length=1)
    type: str = Field(min_length=1)
    workflow_id: str | None = Field(default=None, description="${expr}; default: the event id")

    @field_validator("workflow_id")
    @classmethod
    def _wid(cls, value: str | None) -> str | None:
        if value is not None:
            _check_all(value)
            if not _expressions_in(value):
                raise ValueError("workflow_id must be an expression like ${event.data.claim_id}")
        return value


class Definition(_Model):
    """One version of one workflow."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")
    version: int = Field(ge=1)
    description: str = ""
    trigger: Trigger
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _tag_steps(cls, data: object) -> object:
        # Steps say what they are by their key (task:, approval:, ...); tag them for pydantic.
        if isinstance(data, dict) and isinstance(data.get("steps"), list):
            data = {**data, "steps": [_tagged(s) for s in data["steps"]]}
        return data

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        seen: set[str] = set()
        for step_id in self.step_ids():
            if step_id in seen:
                raise ValueError(f"step id {step_id!r} is used twice; step ids must be unique")
            seen.add(step_id)
        return self

    def step_ids(self) -> list[str]:
        """Every step id, parallel branches included, in order."""
        ids: list[str] = []
        for step in self.steps:
            ids.append(step.id)
            if isinstance(step, ParallelStep):
                ids.extend(branch.id for branch in step.parallel)
        return ids


def _tagged(step: object) -> object:
    if not isinstance(step, dict):
        return step
    tagged = {**step, "kind": _kind(step)}
    if tagged["kind"] == "parallel" and isinstance(tagged.get("parallel"), list):
        tagged["parallel"] = [
            {**b, "kind": "task"} if isinstance(b, dict) else b for b in tagged["parallel"]
        ]
    return tagged


def load_definition(path: Path) -> Definition:
    """Read and validate one YAML definition.

    Raises:
        ConfigError: ``<file>: <field>: <problem>`` for every problem found.
    """
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as e:
        raise ConfigError(f"{path}: cannot read it: {e}") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    try:
        return Definition.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(f"{path}: {describe_errors(e)}") from e


class DefinitionSet:
    """Every known (name, version); a running workflow keeps the version it started with."""

    def __init__(self, definitions: list[Definition]) -> None:
        """Index the definitions.

        Raises:
            ConfigError: The same name and version twice.
        """
        self._by_key: dict[tuple[str, int], Definition] = {}
        for definition in definitions:
            key = (definition.name, definition.version)
            if key in self._by_key:
                raise ConfigError(
                    f"workflow {definition.name} version {definition.version} is defined twice"
                )
            self._by_key[key] = definition

    @classmethod
    def from_dir(cls, folder: Path) -> DefinitionSet:
        """Every ``*.yaml``/``*.yml`` under ``folder``."""
        files = sorted([*folder.rglob("*.yaml"), *folder.rglob("*.yml")])
        return cls([load_definition(f) for f in files])

    def all(self) -> list[Definition]:
        """Every definition, by name and version."""
        return [self._by_key[k] for k in sorted(self._by_key)]

    def get(self, name: str, version: int) -> Definition | None:
        """One exact version."""
        return self._by_key.get((name, version))

    def latest_for(self, topic: str, event_type: str) -> list[Definition]:
        """The newest version of every workflow this event triggers."""
        newest: dict[str, Definition] = {}
        for definition in self._by_key.values():
            if definition.trigger.topic == topic and definition.trigger.type == event_type:
                current = newest.get(definition.name)
                if current is None or definition.version > current.version:
                    newest[definition.name] = definition
        return [newest[n] for n in sorted(newest)]
