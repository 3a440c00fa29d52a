"""Safe expressions for workflow conditions and input mappings (simpleeval, never ``eval``).

An expression sees read-only JSON documents: ``event`` (the trigger), ``steps`` (each finished
step's ``output``, ``status``, ``approved_by``...) and ``workflow`` (id, definition, version).
Attribute and index access both work (``event.data.amount``, ``event.data["amount"]``); only a
few pure functions are callable. Nothing can be mutated, imported or called beyond those.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from pydantic import JsonValue
from simpleeval import EvalWithCompoundTypes, InvalidExpression

__all__ = ["NAMES", "ExpressionError", "check", "evaluate", "render"]

NAMES = ("event", "steps", "workflow")
_FUNCTIONS = {
    "len": len,
    "min": min,
    "max": max,
    "abs": abs,
    "round": round,
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "lower": str.lower,
    "upper": str.upper,
}


class ExpressionError(ValueError):
    """An expression that does not parse, names something unknown, or fails to evaluate."""


class _Doc:
    """A read-only view of a JSON object: attributes and indexes, no methods."""

    __slots__ = ("_value",)

    def __init__(self, value: Mapping[str, Any]) -> None:
        self._value = value

    def __getattr__(self, name: str) -> Any:
        try:
            return _wrap(self._value[name])
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, key: str) -> Any:
        return _wrap(self._value[key])

    def __contains__(self, key: object) -> bool:
        return key in self._value

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        return bool(_unwrap(self) == _unwrap(other))

    def __hash__(self) -> int:
        return id(self)


def _wrap(value: Any) -> Any:
    if isinstance(value, Mapping):
        return _Doc(value)
    if isinstance(value, list | tuple):
        return tuple(_wrap(v) for v in value)
    return value


def _unwrap(value: Any) -> Any:
    if isinstance(value, _Doc):
        return {k: _unwrap(v) for k, v in value._value.items()}
    if isinstance(value, tuple):
        return [_unwrap(v) for v in value]
    return value


def check(expression: str) -> None:
    """Parse ``expression`` and check the names it uses.

    Raises:
        ExpressionError: Syntax error or an unknown name (the message lists the known ones).
    """
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as e:
        raise ExpressionError(f"{expression!r} does not parse: {e.msg}") from e
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in NAMES and node.id not in _FUNCTIONS:
            raise ExpressionError(
                f"{expression!r} uses unknown name {node.id!r}; use {', '.join(NAMES)} "
                f"or the functions {', '.join(sorted(_FUNCTIONS))}"
            )


def evaluate(expression: str, names: Mapping[str, JsonValue]) -> JsonValue:
    """The JSON value of ``expression`` over ``names``.

    Raises:
        ExpressionError: It fails (missing field, wrong types, forbidden feature).
    """
    # A copy: the evaluator adds its own entries to the functions it is given.
    evaluator = EvalWithCompoundTypes(
        names={k: _wrap(v) for k, v in names.items()}, functions=dict(_FUNCTIONS)
    )
    try:
        result = evaluator.eval(expression.strip())
    except (
        InvalidExpression,
        AttributeError,
        KeyError,
        IndexError,
        TypeError,
        ValueError,
        ZeroDivisionError,
    ) as e:
        raise ExpressionError(f"{expression!r} failed: {type(e).__name__}: {e}") from e
    value: JsonValue = _unwrap(result)
    return value


def render(template: JsonValue, names: Mapping[str, JsonValue]) -> JsonValue:
    """An input mapping with every ``"${expr}"`` string replaced by the expression's value."""
    if isinstance(template, str) and template.startswith("${") and template.endswith("}"):
        return evaluate(template[2:-1], names)
    if isinstance(template, dict):
        return {k: render(v, names) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, names) for v in template]
    return template
