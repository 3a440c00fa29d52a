"""Test helpers: polling with a deadline instead of bare sleeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["assert_eventually", "assert_eventually_sync"]

T = TypeVar("T")


async def assert_eventually(
    probe: Callable[[], Awaitable[T]],
    check: Callable[[T], bool],
    *,
    timeout_s: float = 30.0,
    interval_s: float = 0.1,
    what: str = "condition",
) -> T:
    """Await ``probe`` until ``check`` holds for its value; fail with the last value on timeout."""
    deadline = time.monotonic() + timeout_s
    value = await probe()
    while not check(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s}s; last value: {value!r}")
        await asyncio.sleep(interval_s)
        value = await probe()
    return value


def assert_eventually_sync(
    probe: Callable[[], T],
    check: Callable[[T], bool],
    *,
    timeout_s: float = 30.0,
    interval_s: float = 0.1,
    what: str = "condition",
) -> T:
    """Blocking twin of :func:`assert_eventually`."""
    deadline = time.monotonic() + timeout_s
    value = probe()
    while not check(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s}s; last value: {value!r}")
        time.sleep(interval_s)
        value = probe()
    return value
