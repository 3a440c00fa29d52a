"""Reading a fleet file: YAML → :class:`Fleet`, every problem as ``file: field: problem — fix``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from longboat.errors import ConfigError
from longboat.fleet._model import Fleet

__all__ = ["fleet_root", "fleet_schema", "load_fleet", "parse_fleet"]

_DOCS = "see docs/fleet.md"
# The fix for pydantic's error types that do not carry one in their message.
_FIXES = {
    "extra_forbidden": "remove it (a typo? keys are camelCase)",
    "missing": "add it",
    "string_type": "write a string (quote it)",
    "int_type": "write a whole number",
    "int_parsing": "write a whole number",
    "bool_type": "write true or false",
    "bool_parsing": "write true or false",
    "dict_type": "write a mapping (key: value)",
    "model_type": "write a mapping (key: value)",
    "tuple_type": "write a list ([a, b] or - items)",
    "list_type": "write a list ([a, b] or - items)",
    "union_tag_invalid": "use kind: python or kind: http",
}


def load_fleet(path: Path) -> Fleet:
    """Read and validate the fleet file at ``path``.

    Raises:
        ConfigError: The file is unreadable, is not YAML, or does not describe a valid fleet;
            one line per problem: ``FILE: field.path: problem — fix``.
    """
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the fleet file: {e.strerror or e}") from e
    return parse_fleet(text, source=str(path))


def parse_fleet(text: str, *, source: str = "<fleet>") -> Fleet:
    """Validate a fleet document given as YAML text (``source`` names it in errors).

    Raises:
        ConfigError: As :func:`load_fleet`.
    """
    try:
        document: Any = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise ConfigError(
            f"{where}: not valid YAML: {e.problem or e} — fix the syntax at that line"
        ) from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{source}: not valid YAML: {e}") from e
    if not isinstance(document, dict):
        raise ConfigError(
            f"{source}: a fleet file is a mapping (name: ..., agents: [...]) — {_DOCS}"
        )
    try:
        return Fleet.model_validate(document)
    except ValidationError as e:
        lines = [f"{source}: {line}" for item in e.errors() for line in _describe(item)]
        raise ConfigError("\n".join(lines)) from e


def _describe(item: ErrorDetails) -> list[str]:
    """One or more ``field.path: problem — fix`` lines for one pydantic error."""
    message = item["msg"].removeprefix("Value error, ")
    where = ".".join(str(part) for part in item["loc"])
    if item["type"] == "value_error" and not where:
        # The fleet's cross-field checks name their own fields, one problem per line.
        return message.splitlines()
    if "—" in message:
        return [f"{where}: {message}"]
    fix = _FIXES.get(item["type"], _DOCS)
    if item["type"] in ("string_pattern_mismatch", "literal_error", "enum"):
        fix = f"got {item['input']!r}; {_DOCS}"
    return [f"{where or '(file)'}: {message} — {fix}"]


def fleet_root(fleet: Fleet, file: Path) -> Path:
    """Where the fleet's relative paths resolve: ``root`` against the file's folder."""
    base = file.resolve().parent
    return (base / fleet.root).resolve() if fleet.root else base


def fleet_schema() -> str:
    """The JSON schema of the fleet file (by alias), as the chart's ``values.schema.json``."""
    schema = Fleet.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
