"""Tool calls a policy parks for a person (``require_approval``), on real Kafka and OPA."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from longboat.gateway import (
    ApprovalBook,
    ApprovalTimeout,
    DecisionRecord,
    GatewayService,
    ToolApproval,
    ToolRejected,
    approval_id,
    read_approvals,
)
from tests.helpers import assert_eventually
from tests.integration.gateway import tools_for_tests
from tests.integration.gateway.conftest import POLICIES, GatewayWorld, client, serving
from tests.integration.gateway.test_gateway import _decisions
from tests.integration.gateway.test_mcp_server import mcp_client


async def _publish_thresholds(world: GatewayWorld, tmp_path: Path, tools: object) -> None:
    """The shipped policy with ``tools`` as its tool data (thresholds, timeouts)."""
    folder = tmp_path / "policies"
    shutil.copytree(POLICIES, folder)
    data_file = folder / "longboat" / "config" / "data.json"
    data = json.loads(data_file.read_text())
    data["tools"] = tools
    data_file.write_text(json.dumps(data))
    await world.publish(folder)


async def _parked(world: GatewayWorld, key: str) -> ToolApproval:
    """Wait until the call with agent-scoped ``key`` is parked; its approval."""

    async def probe() -> list[ToolApproval]:
        return [a for a in await read_approvals(world.settings.kafka, world.names) if a.key == key]

    found = await assert_eventually(probe, lambda a: len(a) == 1, what=f"approval of {key}")
    return found[0]


async def _raw_invoke(
    gateway: GatewayService, world: GatewayWorld, agent: str, tool: str, args: object, key: str
) -> tuple[int, object]:
    """One POST (no waiting): the status and body the gateway answers."""
    async with client(gateway, world.issuers[agent]) as gw:
        body = {"arguments": args, "idempotency_key": key}
        return await gw.request(
            "POST", f"/v1/tools/{tool}/invoke", body=body, bearer=world.issuers[agent].issue()
        )


async def test_allow_deny_or_park_per_tool_and_argument(
    world: GatewayWorld, tmp_path: Path
) -> None:
    """Below the threshold runs, above it parks (202, nothing run), no capability is denied."""
    await world.enroll("triage", "tool:payments", "tool:weather")
    await world.enroll("intruder", "tool:weather")
    await _publish_thresholds(
        world,
        tmp_path,
        {"payments": {"approval": {"argument": "amount", "above": 500}}, "weather": {}},
    )
    tools_for_tests.CALLS.clear()
    async with serving(world) as gateway:
        status, _ = await _raw_invoke(gateway, world, "triage", "payments", {"amount": 500}, "a-1")
        assert status == 200
        status, body = await _raw_invoke(
            gateway, world, "triage", "payments", {"amount": 501}, "a-2"
        )
        assert status == 202
        assert isinstance(body, dict)
        assert body["state"] == "pending"
        assert body["approval_id"] == approval_id("triage:a-2")
        assert body["reasons"] == [
            "payments: amount 501 is above 500 and needs an operator's approval"
        ]
        # The same key again: the same approval, no second request, still nothing run.
        again = await _raw_invoke(gateway, world, "triage", "payments", {"amount": 501}, "a-2")
        assert again == (202, body)
        # The key's approval answers that call only, never another tool's.
        status, other = await _raw_invoke(gateway, world, "triage", "weather", {}, "a-2")
        assert status == 409
        assert isinstance(other, dict)
        assert "names a call of tool payments" in other["message"]
        status, _ = await _raw_invoke(gateway, world, "triage", "weather", {"amount": 9999}, "a-3")
        assert status == 200  # the threshold is the payments tool's, not the argument's
        status, denied = await _raw_invoke(
            gateway, world, "intruder", "payments", {"amount": 501}, "a-4"
        )
        assert status == 403
        assert isinstance(denied, dict)
        assert denied["error"] == "policy_denied"  # a denial is never parked
    assert [args for args, _ in tools_for_tests.CALLS] == [{"amount": 500}, {"amount": 9999}]
    approvals = await read_approvals(world.settings.kafka, world.names)
    assert [(a.key, a.state, a.agent, a.tool) for a in approvals] == [
        ("triage:a-2", "pending", "triage", "payments")
    ]


async def test_approved_call_runs_once_under_its_key(world: GatewayWorld) -> None:
    """An approved call takes effect once; asking again answers the recorded result."""
    issuer = await world.enroll("triage", "tool:payments")
    await world.publish()  # the shipped data: payments above 10000 need a person
    tools_for_tests.CALLS.clear()
    async with serving(world) as gateway, client(gateway, issuer) as gw:
        call = asyncio.create_task(gw.invoke("payments", {"amount": 20000}, idempotency_key="k"))
        parked = await _parked(world, "triage:k")
        assert parked.reasons == [
            "payments: amount 20000 is above 10000 and needs an operator's approval"
        ]
        assert not tools_for_tests.CALLS
        assert not call.done()
        async with ApprovalBook(world.settings.kafka, world.names) as operator:
            await assert_eventually(
                lambda: _known(operator, parked.id), bool, what="operator sees the approval"
            )
            await operator.resolve(parked.id, verdict="approved", by="alice")
        answer = await asyncio.wait_for(call, timeout=60)
        assert answer["executed"] is True
        again = await gw.invoke("payments", {"amount": 20000}, idempotency_key="k")
        assert again["executed"] is False
        assert again["result"] == answer["result"]
    assert tools_for_tests.CALLS == [({"amount": 20000}, "triage:k")]


async def _known(book: ApprovalBook, approval: str) -> bool:
    return book.get(approval) is not None


async def test_edited_arguments_run_and_are_logged_with_the_approver(
    world: GatewayWorld,
) -> None:
    """Approved with edited arguments: the tool sees the edit; the log names who and both sets."""
    issuer = await world.enroll("triage", "tool:payments")
    await world.publish()
    tools_for_tests.CALLS.clear()
    async with serving(world) as gateway, client(gateway, issuer) as gw:
        call = asyncio.create_task(gw.invoke("payments", {"amount": 20000}, idempotency_key="e"))
        parked = await _parked(world, "triage:e")
        await gateway.approvals.resolve(
            parked.id,
            verdict="approved",
            by="bob",
            note="capped",
            arguments={"amount": 9000},
            edited=True,
        )
        answer = await asyncio.wait_for(call, timeout=60)
        assert answer["result"]["charged"] == {"amount": 9000}
    assert tools_for_tests.CALLS == [({"amount": 9000}, "triage:e")]

    def approved(records: list[DecisionRecord]) -> list[DecisionRecord]:
        return [r for r in records if r.approval is not None]

    records = await assert_eventually(
        lambda: _decisions(world), lambda r: bool(approved(r)), what="approval logged"
    )
    (record,) = approved(records)
    assert record.approval is not None
    assert record.approval.by == "bob"
    assert record.approval.approval_id == parked.id
    assert record.approval.requested_arguments == {"amount": 20000}
    assert record.input.context.arguments == {"amount": 9000}
    assert record.decision.allow


async def test_edit_adding_personal_data_is_refused(world: GatewayWorld) -> None:
    """Edited arguments may not bring personal data the request did not hold: not stored."""
    issuer = await world.enroll("triage", "tool:payments")
    await world.publish()
    async with serving(world) as gateway, client(gateway, issuer) as gw:
        call = asyncio.create_task(gw.invoke("payments", {"amount": 20000}, idempotency_key="p"))
        parked = await _parked(world, "triage:p")
        with pytest.raises(ValueError, match="personal data \\(email\\)"):
            await gateway.approvals.resolve(
                parked.id,
                verdict="approved",
                by="bob",
                arguments={"amount": 1, "to": "eve@example.com"},
                edited=True,
            )
        call.cancel()
    (still,) = await read_approvals(world.settings.kafka, world.names)
    assert still.state == "pending"


async def test_rejected_call_fails_with_the_note(world: GatewayWorld) -> None:
    """A rejected call is a terminal tool_rejected carrying the note; it never runs."""
    issuer = await world.enroll("triage", "tool:payments")
    await world.publish()
    tools_for_tests.CALLS.clear()
    async with serving(world) as gateway, client(gateway, issuer) as gw:
        call = asyncio.create_task(gw.invoke("payments", {"amount": 20000}, idempotency_key="r"))
        parked = await _parked(world, "triage:r")
        await gateway.approvals.resolve(
            parked.id, verdict="rejected", by="carol", note="duplicate claim"
        )
        with pytest.raises(ToolRejected, match=r"carol rejected the call .*duplicate claim"):
            await asyncio.wait_for(call, timeout=60)
        with pytest.raises(ToolRejected):
            await gw.invoke("payments", {"amount": 20000}, idempotency_key="r")
        with pytest.raises(ValueError, match="already rejected"):
            await gateway.approvals.resolve(parked.id, verdict="approved", by="mallory")
    assert tools_for_tests.CALLS == []


async def test_unanswered_call_times_out(world: GatewayWorld, tmp_path: Path) -> None:
    """Nobody answers before the policy's deadline: approval_timeout, recorded as expired."""
    issuer = await world.enroll("triage", "tool:payments")
    rule = {"argument": "amount", "above": 10, "timeout_s": 1}
    await _publish_thresholds(world, tmp_path, {"payments": {"approval": rule}})
    tools_for_tests.CALLS.clear()
    async with serving(world) as gateway, client(gateway, issuer) as gw:
        with pytest.raises(ApprovalTimeout, match="nobody approved the call"):
            await gw.invoke("payments", {"amount": 11}, idempotency_key="t")
        parked = gateway.approvals.of_key("triage:t")
        assert parked is not None
        with pytest.raises(ValueError, match="already expired"):
            await gateway.approvals.resolve(parked.id, verdict="approved", by="late")
    (expired,) = await read_approvals(world.settings.kafka, world.names)
    assert (expired.state, expired.resolved_by) == ("expired", "gateway")
    assert tools_for_tests.CALLS == []


async def test_another_agent_cannot_see_an_approval(world: GatewayWorld) -> None:
    """The long-poll answers only the agent whose call is parked (404 for anyone else)."""
    issuer = await world.enroll("triage", "tool:payments")
    other = await world.enroll("other", "tool:payments")
    await world.publish()
    async with serving(world) as gateway, client(gateway, issuer) as gw:
        call = asyncio.create_task(gw.invoke("payments", {"amount": 20000}, idempotency_key="o"))
        parked = await _parked(world, "triage:o")
        async with client(gateway, other) as theirs:
            status, _ = await theirs.request(
                "GET", f"/v1/tools/approvals/{parked.id}", bearer=other.issue()
            )
            assert status == 404
        call.cancel()


async def test_a_parked_call_through_mcp_is_pending_then_runs_once(world: GatewayWorld) -> None:
    """Over /mcp a parked call is an `approval_pending` tool error; approved, the key runs once."""
    issuer = await world.enroll("triage", "tool:payments")
    await world.publish()  # the shipped data: payments above 10000 need a person
    tools_for_tests.CALLS.clear()
    meta = {"io.longboat/idempotency-key": "m-1"}
    async with serving(world) as gateway:
        url = f"http://127.0.0.1:{gateway.port}/mcp"
        async with mcp_client(url, issuer.issue, "auto") as mcp:
            first = await mcp.call_tool("payments", {"amount": 20000}, meta=meta)  # type: ignore[arg-type]
            assert first.is_error
            assert isinstance(first.structured_content, dict)
            assert first.structured_content["error"] == "approval_pending"
            assert approval_id("triage:m-1") in first.structured_content["message"]
            assert not tools_for_tests.CALLS
            parked = await _parked(world, "triage:m-1")
            async with ApprovalBook(world.settings.kafka, world.names) as operator:
                await assert_eventually(
                    lambda: _known(operator, parked.id), bool, what="operator sees the approval"
                )
                await operator.resolve(parked.id, verdict="approved", by="alice")
            await assert_eventually(
                lambda: _resolved(gateway, parked.id), bool, what="gateway sees the approval"
            )
            ran = await mcp.call_tool("payments", {"amount": 20000}, meta=meta)  # type: ignore[arg-type]
            again = await mcp.call_tool("payments", {"amount": 20000}, meta=meta)  # type: ignore[arg-type]
    assert not ran.is_error, ran
    assert not again.is_error, again
    assert tools_for_tests.CALLS == [({"amount": 20000}, "triage:m-1")]


async def _resolved(gateway: GatewayService, approval: str) -> bool:
    found = gateway.approvals.get(approval)
    return found is not None and found.state == "approved"
