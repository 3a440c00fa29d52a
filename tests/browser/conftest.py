"""A real Chromium (Debian's package) driven by Playwright, and where its screenshots go.

Playwright's own browser download is not reachable from these machines, so the browser is the
system's ``/usr/bin/chromium`` (``make provision-test`` installs it as root). Without it, or
without the ``playwright`` package, the browser tests skip locally and fail under ``CI=true``.
Screenshots land in ``test-artifacts/browser/`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import REPO, _unavailable

if TYPE_CHECKING:
    from playwright.async_api import Page

ARTIFACTS = REPO / "test-artifacts" / "browser"


def _chromium() -> str | None:
    """The system Chromium: ``LONGBOAT_TEST_CHROMIUM`` or the first one on the PATH."""
    given = os.environ.get("LONGBOAT_TEST_CHROMIUM")
    if given:
        return given if Path(given).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    """A fresh page in a laptop-sized window of a real, headless Chromium."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    executable = _chromium()
    if executable is None:
        _unavailable("no chromium on the PATH (apt-get install chromium, as root)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            context = await browser.new_context(viewport={"width": 1366, "height": 768})
            yield await context.new_page()
        finally:
            await browser.close()


async def screenshot(page: Page, name: str) -> Path:
    """Keep a full-page screenshot as a test artifact; returns its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
