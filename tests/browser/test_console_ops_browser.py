"""Mission Control's operations views in a real Chromium, on the worlds of the API tests.

The fleet view shows records/s and dead-letter counts moving as a real agent works; the
digest a real gateway runs, and its change after a publish, without a reload; a registry
change; a budget flagged live at 80 %. An inbox error links to its run's trace and dead letter.
Each page is kept as a screenshot (``test-artifacts/browser``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from longboat import Settings
from tests.browser.conftest import screenshot
from tests.browser.test_console_browser import _log_in
from tests.integration.coordinator.test_console_ops import (
    failing_workflow,
    gateway_world,
    governed_fleet,
    metered_fleet,
)
from tests.integration.gateway.conftest import GatewayWorld

if TYPE_CHECKING:
    from playwright.async_api import Page

__all__ = ["gateway_world"]  # the fixture, imported for its name

_WAIT_MS = 60_000


async def test_the_fleet_shows_records_per_second_and_dead_letters_moving(
    page: Page, settings: Settings, tmp_path: Path, unique: str
) -> None:
    """Before any record the counts are zero; after records and one failure the open fleet
    view shows a rate above zero, the failed step, the dead letter and the pending DLQ."""
    async with metered_fleet(settings, tmp_path, unique) as fleet:
        await _log_in(page, fleet.base, "olga")
        await page.click("nav a[data-tab=fleet]")
        await page.locator("[data-dlq=meter]:text-is('0')").wait_for(timeout=_WAIT_MS)
        await fleet.send(*range(1, 21), -1)
        # The rate is between two heartbeats: above zero while the agent works.
        rate = "document.querySelector(\"[data-rate='meter@2.0']\")?.textContent"
        await page.wait_for_function(f"() => parseFloat({rate}) > 0", timeout=_WAIT_MS)
        await screenshot(page, "fleet-throughput")
        await page.locator("[data-dlq=meter]:text-is('1')").wait_for(timeout=_WAIT_MS)
        await page.locator("[data-dead-lettered='meter@2.0']:text-is('1')").wait_for()
        errors = await page.locator("[data-errors='meter@2.0']").inner_text()
        assert int(errors) >= 1
        await screenshot(page, "fleet-dead-letters")


async def test_the_fleet_shows_gateway_digests_budgets_and_registry_changes(
    page: Page, gateway_world: GatewayWorld, tmp_path: Path, unique: str
) -> None:
    """The gateway's digest is on the page and changes after a publish without a reload; a
    budget is flagged approaching live when spend reaches 80 %; a revocation appears as a
    change."""
    async with governed_fleet(gateway_world, tmp_path, unique) as (fleet, first):
        await _log_in(page, fleet.base, "olga")
        await page.click("nav a[data-tab=fleet]")
        digest = page.locator("[data-gateway-digest=gw-test]")
        await page.locator(f"[data-gateway-digest=gw-test]:text-is('{first}')").wait_for(
            timeout=_WAIT_MS
        )
        budget = "[data-budget='claims/decade']"
        await page.locator(f"{budget}.budget-ok").wait_for(timeout=_WAIT_MS)  # 8 of 20
        assert await page.locator("text=flagged at 80 %").count() == 1
        await fleet.spend("k2")  # 16 of 20: flagged on the open page, no reload
        await page.locator(f"{budget}.budget-approaching").wait_for(timeout=_WAIT_MS)
        await page.locator("[data-change='enrolled:claims@1.0']").wait_for()
        await screenshot(page, "fleet-governance")
        second = await fleet.republish()  # the limit raised to 24: no longer flagged
        await page.locator(f"[data-gateway-digest=gw-test]:text-is('{second}')").wait_for(
            timeout=_WAIT_MS
        )
        assert await digest.inner_text() == second
        await page.locator(f"{budget}.budget-ok").wait_for(timeout=_WAIT_MS)
        await fleet.revoke("claims")
        await page.locator("[data-change='status_changed:claims@1.0']").wait_for(timeout=_WAIT_MS)
        await screenshot(page, "fleet-governance-changed")


async def test_an_inbox_error_links_to_its_trace_and_dead_letter(
    page: Page, settings: Settings, tmp_path: Path, unique: str
) -> None:
    """The failed claim's row links to the payment run's trace (the failed step) and to the
    dead letter that run left."""
    async with failing_workflow(settings, tmp_path, unique) as base:
        await _log_in(page, base, "carol")
        trace = page.locator("a[data-trace=c-declined]")
        await trace.wait_for(timeout=_WAIT_MS)
        await screenshot(page, "inbox-errors")
        await trace.click()
        await page.locator("#run-title:has-text('dead_lettered')").wait_for(timeout=_WAIT_MS)
        assert await page.locator("td:text-is('charge')").count() == 1
        await screenshot(page, "run-trace")
        await page.go_back()
        await page.locator("a[data-dead-letter=c-declined]").click()
        letter = page.locator("#dead-letter + table tr:has(td:has-text('card declined'))")
        await letter.wait_for(timeout=_WAIT_MS)
        assert "StepFailed" in await letter.inner_text()
        await screenshot(page, "run-dead-letter")
