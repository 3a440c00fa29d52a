"""Mission Control in a real Chromium: a tool call the gateway parked for approval appears in
the inbox beside the workflow gates; approving it by click, with edited arguments, runs the call
once with the edit."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from longboat import Settings
from tests.browser.conftest import screenshot
from tests.browser.test_console_browser import _log_in
from tests.helpers import assert_eventually
from tests.integration.coordinator.test_coordinator import _setup, coordinator
from tests.integration.gateway import tools_for_tests
from tests.integration.gateway.conftest import GatewayWorld, client, serving, world  # noqa: F401

if TYPE_CHECKING:
    from playwright.async_api import Page


async def test_approve_an_edited_tool_call_by_click(
    page: Page,
    world: GatewayWorld,  # noqa: F811
    settings: Settings,
    tmp_path: Path,
    unique: str,
) -> None:
    """The parked payment shows agent, tool, arguments and why; the approver edits the amount
    and clicks approve; the tool runs once with the edited amount."""
    _, folder = await _setup(settings, tmp_path, unique)
    issuer = await world.enroll("triage", "tool:payments")
    await world.publish()  # the shipped data: payments above 10000 need a person
    tools_for_tests.CALLS.clear()
    async with serving(world) as gateway, coordinator(settings, folder) as service:

        async def pay() -> dict[str, Any]:
            async with client(gateway, issuer) as gw:
                return await gw.invoke("payments", {"amount": 25000}, idempotency_key="b-1")

        call = asyncio.create_task(pay())
        await _log_in(page, f"http://127.0.0.1:{service.port}", "grace")
        button = "button[data-action=approve-call]"
        await page.wait_for_selector(button, timeout=60_000)  # arrives live, without a reload
        row = await page.inner_text("tr:has(button[data-action=approve-call])")
        assert "triage@1.0" in row
        assert "payments" in row
        assert '"amount": 25000' in row
        assert "amount 25000 is above 10000" in row
        await screenshot(page, "tool-approval-waiting")
        await page.fill("textarea[data-arguments]", '{"amount": 9000}')
        await page.fill("input[data-note^=ap-]", "split the payment")
        await page.click(button)
        answer = await asyncio.wait_for(call, timeout=60)
        assert answer["result"]["charged"] == {"amount": 9000}
        await page.wait_for_selector("h2:has-text('tool calls (0)')", timeout=60_000)
        await screenshot(page, "tool-approval-approved")
        (approval,) = service.tool_approvals.book.all()
        assert (approval.resolved_by, approval.note) == ("grace", "split the payment")
    assert tools_for_tests.CALLS == [({"amount": 9000}, "triage:b-1")]
    await assert_eventually(
        lambda: _no_pending(service), bool, what="nothing pending after the click"
    )


async def _no_pending(service: Any) -> bool:
    return not service.tool_approvals.pending()
