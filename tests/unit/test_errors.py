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


def _every_subclass(cls: type[LongboatError]) -> list[type[LongboatError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_every_subclass(sub)]
    return found


def _component_errors() -> list[type[LongboatError]]:
    """Every error class of every installed Longboat package (each module imported)."""
    import importlib
    import pkgutil

    import longboat

    for info in pkgutil.walk_packages(longboat.__path__, "longboat."):
        if not info.name.endswith(".testing"):
            importlib.import_module(info.name)
    return [c for c in _every_subclass(LongboatError) if c.__module__.startswith("longboat")]


def test_component_errors_have_own_codes_and_are_documented() -> None:
    """Components' errors too: a code of their own, a branch, and a line in the errors tree."""
    classes = _component_errors()
    assert len(classes) > len(_all_errors())  # the walk found the components' errors
    codes = [cls.code for cls in classes]
    assert sorted(c for c in codes if codes.count(c) > 1) == []
    doc = errors.__doc__ or ""
    for cls in classes:
        assert cls.retryable == issubclass(cls, RetryableError), cls
        if cls.code not in ("retryable", "terminal"):
            assert cls.code in doc, cls
            assert cls.__name__ in doc, cls
