"""The error hierarchy: stable unique codes, and retryable vs terminal."""

from __future__ import annotations

import longboat.errors as errors
from longboat.errors import LongboatError, RetryableError, TerminalError


def _all_errors() -> list[type[LongboatError]]:
    return [getattr(errors, name) for name in errors.__all__]


def test_codes_are_unique() -> None:
    """No two error classes share a code (alerts and DLQ records key on it)."""
    codes = [cls.code for cls in _all_errors()]
    assert len(codes) == len(set(codes))


def test_every_error_is_retryable_xor_terminal() -> None:
    """Each concrete error sits under exactly one branch, and its flag agrees."""
    for cls in _all_errors():
        if cls is LongboatError:
            continue
        assert issubclass(cls, RetryableError) != issubclass(cls, TerminalError), cls
        assert cls.retryable == issubclass(cls, RetryableError), cls


def test_docstring_tree_lists_every_code() -> None:
    """The tree in the module docstring is kept in step with the classes."""
    doc = errors.__doc__ or ""
    for cls in _all_errors():
        if cls.code not in ("longboat_error", "retryable", "terminal"):
            assert cls.code in doc, cls.code
