"""Tool approvals in Mission Control and the CLI: the coordinator resolves a call the gateway
parked; the approver role, CSRF and who-resolved are enforced and recorded."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from longboat import Settings
from longboat.coordinator import CoordinatorClient, CoordinatorService
from longboat.gateway import DecisionRecord, GatewayService, ToolApproval, ToolRejected
from tests.helpers import assert_eventually
from tests.integration.coordinator.test_coordinator import OPERATOR_TOKEN, _setup, coordinator
from tests.integration.gateway import tools_for_tests
from tests.integration.gateway.conftest import REPO, GatewayWorld, client, serving
from tests.integration.gateway.test_gateway import _decisions

LONGBOAT = str(Path(sys.executable).parent / "longboat")


async def _listed(service: CoordinatorService) -> list[ToolApproval]:
    return service.tool_approvals.pending()


async def _park(
    world: GatewayWorld, gateway: GatewayService, service: CoordinatorService, key: str
) -> tuple[asyncio.Task[dict[str, Any]], ToolApproval]:
    """Start a payment the shipped policy parks; wait until the coordinator lists it."""

    async def pay() -> dict[str, Any]:
        async with client(gateway, world.issuers["triage"]) as gw:
            return await gw.invoke("payments", {"amount": 20000}, idempotency_key=key)

    call = asyncio.create_task(pay())
    found = await assert_eventually(
        lambda: _listed(service),
        lambda a: any(x.key == f"triage:{key}" for x in a),
        what="approval in the inbox",
    )
    return call, next(x for x in found if x.key == f"triage:{key}")


async def test_operator_approves_an_edited_call_through_the_coordinator(
    world: GatewayWorld, settings: Settings, tmp_path: Path, unique: str
) -> None:
    """CoordinatorClient lists the parked call and approves it with edited arguments: the tool
    sees the edit once, and the decision log names the approver and both argument sets."""
    _, folder = await _setup(settings, tmp_path, unique)
    await world.enroll("triage", "tool:payments")
    await world.publish()
    tools_for_tests.CALLS.clear()
    async with (
        serving(world) as gateway,
        coordinator(settings, folder) as service,
        CoordinatorClient(
            f"http://127.0.0.1:{service.port}", operator_token=OPERATOR_TOKEN
        ) as operator,
    ):
        call, parked = await _park(world, gateway, service, "c-1")
        (listed,) = await operator.tool_approvals()
        assert (listed.id, listed.agent, listed.tool, listed.arguments) == (
            parked.id,
            "triage",
            "payments",
            {"amount": 20000},
        )
        approved = await operator.approve_call(
            parked.id, arguments={"amount": 8000}, edited=True, note="capped", by="dave"
        )
        assert (approved.state, approved.resolved_by, approved.edited) == ("approved", "dave", True)
        answer = await asyncio.wait_for(call, timeout=60)
        assert answer["result"]["charged"] == {"amount": 8000}
        assert await operator.tool_approvals() == []
    assert tools_for_tests.CALLS == [({"amount": 8000}, "triage:c-1")]

    def approvals(records: list[DecisionRecord]) -> list[DecisionRecord]:
        return [r for r in records if r.approval is not None]

    records = await assert_eventually(
        lambda: _decisions(world), lambda r: bool(approvals(r)), what="approval logged"
    )
    (record,) = approvals(records)
    assert record.approval is not None
    assert (record.approval.by, record.approval.note) == ("dave", "capped")
    assert record.approval.requested_arguments == {"amount": 20000}
    assert record.input.context.arguments == {"amount": 8000}


async def test_session_needs_csrf_and_a_viewer_cannot_resolve(
    world: GatewayWorld, settings: Settings, tmp_path: Path, unique: str
) -> None:
    """A viewer reads the approvals but may not resolve; a session needs its CSRF token, and the
    rejection it sends fails the agent's call with the note, recorded under the session's name."""
    _, folder = await _setup(settings, tmp_path, unique)
    viewer_file = tmp_path / "viewer-token"
    viewer_file.write_text("viewer-token-0123456789abcdef\n")
    await world.enroll("triage", "tool:payments")
    await world.publish()
    tools_for_tests.CALLS.clear()
    async with (
        serving(world) as gateway,
        coordinator(settings, folder, viewer_token_file=viewer_file) as service,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
    ):
        call, parked = await _park(world, gateway, service, "c-2")
        base = f"http://127.0.0.1:{service.port}"
        viewer = {"Authorization": "Bearer viewer-token-0123456789abcdef"}
        async with http.get(f"{base}/v1/tool-approvals?state=pending", headers=viewer) as r:
            assert r.status == 200
            assert [a["id"] for a in (await r.json())["approvals"]] == [parked.id]
        reject = f"{base}/v1/tool-approvals/{parked.id}/reject"
        async with http.post(reject, json={"note": "no"}, headers=viewer) as r:
            assert (r.status, (await r.json())["error"]) == (403, "forbidden")
        async with http.post(f"{base}/login", json={"token": OPERATOR_TOKEN, "name": "erin"}) as r:
            session = await r.json()
        async with http.post(reject, json={"note": "duplicate"}) as r:
            assert (r.status, (await r.json())["error"]) == (403, "csrf")
        csrf = {"X-CSRF-Token": session["csrf"]}
        async with http.post(reject, json={"note": "duplicate", "by": "x"}, headers=csrf) as r:
            assert r.status == 200
            assert (await r.json())["resolved_by"] == "erin"  # the session's name, not "by"
        async with http.post(reject, json={"note": "again"}, headers=csrf) as r:
            assert (r.status, (await r.json())["error"]) == (409, "approval_refused")
        async with http.post(
            f"{base}/v1/tool-approvals/ap-nope/approve", json={}, headers=csrf
        ) as r:
            assert r.status == 404
        with pytest.raises(ToolRejected, match=r"erin rejected the call .*duplicate"):
            await asyncio.wait_for(call, timeout=60)
    assert tools_for_tests.CALLS == []


async def _cli(service: CoordinatorService, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGBOAT_")}
    env |= {
        "LONGBOAT_COORDINATOR_URL": f"http://127.0.0.1:{service.port}",
        "LONGBOAT_OPERATOR_TOKEN": OPERATOR_TOKEN,
        "PYTHONPATH": str(REPO),
    }
    process = await asyncio.create_subprocess_exec(
        LONGBOAT,
        *args,
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode()


async def test_cli_lists_approves_and_rejects_calls(
    world: GatewayWorld, settings: Settings, tmp_path: Path, unique: str
) -> None:
    """`longboat tools approvals|approve-call|reject-call` resolve parked calls; bad JSON and
    unknown ids are one-line errors."""
    _, folder = await _setup(settings, tmp_path, unique)
    await world.enroll("triage", "tool:payments")
    await world.publish()
    tools_for_tests.CALLS.clear()
    async with serving(world) as gateway, coordinator(settings, folder) as service:
        first, one = await _park(world, gateway, service, "c-3")
        second, two = await _park(world, gateway, service, "c-4")
        code, out = await _cli(service, "tools", "approvals")
        assert code == 0, out
        assert one.id in out
        assert two.id in out
        assert "payments" in out
        code, out = await _cli(service, "tools", "approve-call", one.id, "--arguments", "{nope")
        assert code == 2, out
        assert "--arguments: not JSON" in out
        assert "Traceback" not in out
        code, out = await _cli(
            service, "tools", "approve-call", one.id, "--arguments", '{"amount": 7}', "--by", "fay"
        )
        assert code == 0, out
        assert f"approved {one.id}" in out
        code, out = await _cli(service, "tools", "reject-call", two.id, "--note", "too much")
        assert code == 0, out
        code, out = await _cli(service, "tools", "reject-call", "ap-unknown", "--note", "x")
        assert code == 2, out
        assert "no tool approval" in out
        assert "Traceback" not in out
        assert (await asyncio.wait_for(first, timeout=60))["result"]["charged"] == {"amount": 7}
        with pytest.raises(ToolRejected, match="too much"):
            await asyncio.wait_for(second, timeout=60)
    assert tools_for_tests.CALLS == [({"amount": 7}, "triage:c-3")]
