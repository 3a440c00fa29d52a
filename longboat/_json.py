"""Strict JSON for request bodies: bounded in size and depth, finite numbers only.

Python's ``json`` accepts ``NaN``, ``Infinity`` and ``1e999999`` (which becomes ``inf``) and
then writes them back as text that is not JSON; it accepts lone UTF-16 surrogates that cannot
be encoded again; and it recurses once per nesting level. A service that stores what it reads
and hands it to others must refuse all of that at the door, with a message the caller can act
on, before any other work is spent on the body.
"""

from __future__ import annotations

import json
import math
from typing import Any

from longboat.errors import UsageError

__all__ = [
    "MAX_JSON_DEPTH",
    "JsonInvalid",
    "JsonTooLarge",
    "loads_strict",
]

MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects accepted (deeper input is refused, not recursed)."""


class JsonInvalid(UsageError):
    """The body is not strict JSON (syntax, encoding, non-finite number, too deep)."""

    code = "json_invalid"


class JsonTooLarge(UsageError):
    """The body is larger than the endpoint accepts."""

    code = "json_too_large"

    def __init__(self, size: int, limit: int) -> None:
        """Say how large the body was and what the limit is."""
        super().__init__(
            f"the body is {size} bytes; this endpoint accepts at most {limit} bytes "
            "(store large documents elsewhere and remember a reference to them)"
        )
        self.size = size
        self.limit = limit


def _no_constant(name: str) -> Any:
    raise JsonInvalid(f"{name} is not a JSON number: send finite numbers only")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonInvalid(f"{text[:40]} overflows a 64-bit float: send finite numbers only")
    return value


def _check(value: object, depth: int) -> None:
    """Refuse lone surrogates (they cannot be written back as UTF-8) and deep nesting."""
    if depth > MAX_JSON_DEPTH:
        raise JsonInvalid(f"the body nests deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise JsonInvalid("a string holds a lone UTF-16 surrogate (\\ud800-\\udfff)") from e
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key, depth + 1)
            _check(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check(item, depth + 1)


def _too_deep(raw: bytes) -> bool:
    """Whether brackets alone already nest too deep (checked before ``json`` recurses)."""
    depth = peak = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            peak = max(peak, depth)
            if peak > MAX_JSON_DEPTH:
                return True
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False


def loads_strict(raw: bytes, *, limit: int) -> Any:
    """Parse ``raw`` as strict JSON of at most ``limit`` bytes.

    Raises:
        JsonTooLarge: ``raw`` is longer than ``limit`` (checked before parsing).
        JsonInvalid: Not UTF-8 JSON; ``NaN``/``Infinity``/an overflowing number; a lone
            surrogate; nesting deeper than :data:`MAX_JSON_DEPTH`.
    """
    if len(raw) > limit:
        raise JsonTooLarge(len(raw), limit)
    if _too_deep(raw):
        raise JsonInvalid(f"the body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        text = raw.decode("utf-8")
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except UnicodeDecodeError as e:
        raise JsonInvalid(f"the body is not UTF-8 (byte {e.start})") from e
    except json.JSONDecodeError as e:
        raise JsonInvalid(f"the body is not JSON: {e.msg} at line {e.lineno} col {e.colno}") from e
    except ValueError as e:  # e.g. an integer of more than 4300 digits
        raise JsonInvalid(f"the body holds a number Python refuses: {e}") from e
    _check(value, 0)
    return value
