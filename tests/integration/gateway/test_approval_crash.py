"""A real agent process SIGKILLed while its ``ctx.tool`` step waits for an operator's approval:
the restarted run finds the same approval, and the approved call takes effect once."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

from longboat import EnvelopeSerde
from longboat.gateway import ApprovalBook, ToolApproval, read_approvals
from tests.helpers import assert_eventually
from tests.integration.agents.conftest import read_committed
from tests.integration.gateway import tools_for_tests
from tests.integration.gateway.conftest import GatewayWorld, serving
from tests.integration.gateway.test_mcp_crash import (  # noqa: F401
    Processes,
    agent_process_env,
    agent_process_setup,
    processes,
)

_AGENT = "tests.integration.gateway.approval_agent:agent"


async def _approvals(world: GatewayWorld) -> list[ToolApproval]:
    return await read_approvals(world.settings.kafka, world.names)


async def test_agent_sigkilled_while_waiting_resumes_and_pays_once(
    world: GatewayWorld,
    processes: Processes,  # noqa: F811
    tmp_path: Path,
    unique: str,
) -> None:
    """Killed while parked: the restarted step finds the same approval; one effect, one output."""
    await world.publish()  # the shipped data: payments above 10000 need a person
    key_file = tmp_path / "payer.key"
    input_topic, output_topic = f"ain.{unique}", f"aout.{unique}"
    await agent_process_setup(
        world, key_file, "payer", "tool:payments", (input_topic, output_topic), [{"amount": 25000}]
    )
    serde = EnvelopeSerde()
    tools_for_tests.CALLS.clear()
    async with serving(world) as gateway:
        env = agent_process_env(
            world,
            gateway.port,
            key_file,
            APPROVAL_AGENT_INPUT=input_topic,
            APPROVAL_AGENT_OUTPUT=output_topic,
        )
        run = ["run", "agent", _AGENT, "--instance", "p-1"]
        first = processes.start(run, env)
        (parked,) = await assert_eventually(
            lambda: _approvals(world), lambda a: len(a) == 1, timeout_s=120, what="call parked"
        )
        first.send_signal(signal.SIGKILL)
        assert await asyncio.to_thread(first.wait) == -signal.SIGKILL
        second = processes.start(run, env)
        async with ApprovalBook(world.settings.kafka, world.names) as operator:
            await operator.resolve(parked.id, verdict="approved", by="alice")
        records = await read_committed(world.settings.kafka, output_topic, 1, timeout_s=120)
        second.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(second.wait) == 0, "graceful shutdown on SIGTERM"
    outputs: list[dict[str, Any]] = [
        dict(serde.decode(r.value or b"", r.headers).data)  # type: ignore[arg-type]
        for r in records
    ]
    assert [({"amount": 25000}, parked.key)] == tools_for_tests.CALLS
    assert [o["receipt"]["charged"] for o in outputs] == [{"amount": 25000}]
    assert [(a.id, a.state) for a in await _approvals(world)] == [(parked.id, "approved")]
