"""Mission Control in a real Chromium against a live coordinator on the real stack.

An approval by click resumes the workflow, a rejection by click ends it, a visitor without a
session sees nothing and cannot approve, and the fleet view shows a SIGKILLed agent instance
going stale without a reload. Each page is kept as a screenshot (``test-artifacts/browser``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from longboat import Settings, TopicNames, TopicSpec
from longboat.kafka import Admin
from longboat.registry import RegistryClient, generate_key, public_key_b64, write_private_key
from tests.browser.conftest import screenshot
from tests.conftest import REPO
from tests.helpers import assert_eventually
from tests.integration.agents.conftest import running
from tests.integration.coordinator.test_coordinator import (
    OPERATOR_TOKEN,
    _claims,
    _setup,
    _specialists,
    _status,
    coordinator,
)
from tests.integration.registry.test_registry_service import OPERATOR as REGISTRY_OPERATOR
from tests.integration.registry.test_registry_service import registry_service

if TYPE_CHECKING:
    from playwright.async_api import Page

    from longboat.coordinator import CoordinatorService

LONGBOAT = str(Path(sys.executable).parent / "longboat")


async def _log_in(page: Page, base: str, name: str) -> None:
    await page.goto(base + "/")
    await page.fill("#login-name", name)
    await page.fill("#login-token", OPERATOR_TOKEN)
    await page.click("#login button[type=submit]")
    await page.wait_for_selector(f"#who:has-text('{name} (approver)')")
    assert await page.is_hidden("#login"), "the login form stays on screen after logging in"


async def _waiting(service: CoordinatorService, *workflow_ids: str) -> None:
    for wf in workflow_ids:

        async def status(workflow_id: str = wf) -> str | None:
            return await _status(service, workflow_id)

        await assert_eventually(
            status, lambda s: s == "waiting_approval", timeout_s=60, what=f"{wf} waiting"
        )


async def _ended(service: CoordinatorService, workflow_id: str, wanted: str) -> None:
    await assert_eventually(
        lambda: _status(service, workflow_id),
        lambda s: s == wanted,
        timeout_s=60,
        what=f"{workflow_id} {wanted}",
    )


async def test_approve_and_reject_by_click(
    page: Page, settings: Settings, tmp_path: Path, unique: str
) -> None:
    """Clicking approve resumes a waiting claim (recorded with the operator's name and note);
    clicking reject ends the other; the inbox updates live."""
    world, folder = await _setup(settings, tmp_path, unique)
    triage, payments = _specialists([])
    async with (
        coordinator(settings, folder) as service,
        running(triage, world.agent_settings(instance="s1")),
        running(payments, world.agent_settings(instance="s2")),
    ):
        await _claims(world, ("c-small", 100), ("c-big", 5000), ("c-bad", 9000))
        await _waiting(service, "c-big", "c-bad")
        await _ended(service, "c-small", "completed")
        await _log_in(page, f"http://127.0.0.1:{service.port}", "carol")
        approve = page.locator("button[data-action=approve][data-workflow=c-big]")
        await approve.wait_for()
        await screenshot(page, "inbox")
        row = await page.locator("tr", has=approve).inner_text()
        assert '"amount": 5000' in row  # the claim itself, for the approver to decide on
        assert "specversion" not in row  # not the envelope around it
        await page.fill("input[data-note=c-big]", "receipts checked")
        await approve.click()
        await _ended(service, "c-big", "completed")
        # Server-sent events refresh the inbox: the decided claim leaves "needs your input".
        await approve.wait_for(state="detached")
        await page.click("button[data-action=reject][data-workflow=c-bad]")
        await _ended(service, "c-bad", "rejected")
        await page.locator("button[data-action=reject]").wait_for(state="detached")
        await screenshot(page, "inbox-decided")
        record = service.engine.record("c-big")
        assert record is not None
        review = record.state.steps["review"]
        assert (review.decided_by, review.note) == ("carol", "receipts checked")
        await page.goto(f"http://127.0.0.1:{service.port}/#workflow/c-big")
        await page.wait_for_selector("text=WorkflowCompleted")
        await screenshot(page, "workflow")
        await page.goto(f"http://127.0.0.1:{service.port}/#workflows")
        await page.wait_for_selector("a[href='#workflow/c-bad']")
        await screenshot(page, "workflows")
        await page.goto(f"http://127.0.0.1:{service.port}/#governance")
        await page.wait_for_selector("h2:has-text('Dead letters')")
        await screenshot(page, "governance")


async def test_a_visitor_without_a_session_sees_nothing_and_cannot_approve(
    page: Page, settings: Settings, tmp_path: Path, unique: str
) -> None:
    """The page shows only the login form; a wrong token is refused; the API answers 401 to
    the page's own requests and the waiting claim stays waiting."""
    world, folder = await _setup(settings, tmp_path, unique)
    triage, payments = _specialists([])
    async with (
        coordinator(settings, folder) as service,
        running(triage, world.agent_settings(instance="s1")),
        running(payments, world.agent_settings(instance="s2")),
    ):
        await _claims(world, ("c-big", 5000))
        await _waiting(service, "c-big")
        base = f"http://127.0.0.1:{service.port}"
        await page.goto(base + "/")
        await page.wait_for_selector("#login:visible")
        assert not await page.is_visible("#tabs")
        assert "c-big" not in await page.content()
        await page.fill("#login-name", "mallory")
        await page.fill("#login-token", "not-the-token")
        await page.click("#login button[type=submit]")
        await page.wait_for_selector("#login-error:has-text('not accepted')")
        await screenshot(page, "login-refused")
        answers: dict[str, Any] = await page.evaluate(
            """async () => {
                const post = await fetch("/v1/workflows/c-big/signals", {
                    method: "POST", headers: {"Content-Type": "application/json"},
                    body: JSON.stringify({signal: "approve", by: "mallory"})});
                const inbox = await fetch("/v1/inbox");
                return {post: post.status, inbox: inbox.status};
            }"""
        )
        assert answers == {"post": 401, "inbox": 401}
        assert "c-big" not in await page.content()
        assert await _status(service, "c-big") == "waiting_approval"


def _start_beacon(
    settings: Settings, registry_url: str, key: Path, log: Path, *, topic: str
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGBOAT_")}
    env |= {
        "LONGBOAT_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "LONGBOAT_TOPIC_PREFIX": settings.topic_prefix,
        "LONGBOAT_REGISTRY_URL": registry_url,
        "LONGBOAT_AGENT__KEY_FILE": str(key),
        "LONGBOAT_AGENT__HEARTBEAT_S": "0.5",
        "LONGBOAT_AGENT__HTTP_PORT": "0",
        "LONGBOAT_LOG_LEVEL": "warning",
        "BEACON_INPUT": topic,
        "PYTHONPATH": str(REPO),
    }
    command = [LONGBOAT, "run", "agent", "tests.browser.beacon_agent:agent", "--instance", "pod-1"]
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)


async def test_the_fleet_view_shows_a_killed_instance_going_stale(
    page: Page, settings: Settings, tmp_path: Path, unique: str
) -> None:
    """A real agent process heartbeats and shows live; after SIGKILL the open fleet view marks
    its instance stale without a reload."""
    _, folder = await _setup(settings, tmp_path, unique)
    names = TopicNames(settings.topic_prefix)
    async with Admin(settings.kafka) as admin:
        await admin.ensure_topics(
            [*names.agent_topics("beacon", partitions=1), TopicSpec(f"beacon.{unique}", 1)]
        )
    key = generate_key()
    key_file = write_private_key(key, tmp_path / "beacon.key")
    async with (
        registry_service(settings) as registry,
        RegistryClient(f"http://127.0.0.1:{registry.port}", operator_token=REGISTRY_OPERATOR) as rc,
        coordinator(settings, folder, stale_after_s=3) as service,
    ):
        await rc.enroll("beacon", version="1.0", public_key=public_key_b64(key), capabilities=[])
        beacon = _start_beacon(
            settings,
            f"http://127.0.0.1:{registry.port}",
            key_file,
            tmp_path / "beacon.log",
            topic=f"beacon.{unique}",
        )
        try:
            await _log_in(page, f"http://127.0.0.1:{service.port}", "olga")
            await page.click("nav a[data-tab=fleet]")
            live = page.locator("[data-instance=pod-1]:not(.stale)")
            await live.wait_for(timeout=60_000)
            await screenshot(page, "fleet-live")
            beacon.send_signal(signal.SIGKILL)
            beacon.wait()
            await page.locator("[data-instance=pod-1].stale").wait_for(timeout=60_000)
            await screenshot(page, "fleet-stale")
        finally:
            if beacon.poll() is None:
                beacon.kill()
                beacon.wait()
