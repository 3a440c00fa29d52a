"""A real agent process SIGKILLed while its ``ctx.tool`` step waits for an operator's approval:
the restarted run finds the same approval, and the approved call takes effect once."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

from longboat import Envelope, EnvelopeSerde, TopicSpec
from longboat.gateway import ApprovalBook, ToolApproval, read_approvals
from longboat.kafka import Admin, Producer
from longboat.registry import write_private_key
from tests.helpers import assert_eventually
from tests.integration.agents.conftest import read_committed
from tests.integration.gateway import tools_for_tests
from tests.integration.gateway.conftest import GatewayWorld, serving
from tests.integration.gateway.test_mcp_crash import Processes, processes  # noqa: F401

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
    issuer = await world.enroll("payer", "tool:payments")
    key_file = tmp_path / "payer.key"
    write_private_key(issuer._key, key_file)  # as `longboat agents enroll` writes it
    input_topic, output_topic = f"ain.{unique}", f"aout.{unique}"
    async with Admin(world.settings.kafka) as admin:
        await admin.ensure_topics(
            [
                *world.names.agent_topics("payer", partitions=1),
                TopicSpec(input_topic, 1),
                TopicSpec(output_topic, 1),
            ]
        )
    serde = EnvelopeSerde()
    async with Producer(world.settings.kafka) as producer:
        event = serde.encode(Envelope(type="pay", source="/tests", data={"amount": 25000}))
        await producer.send(input_topic, event.value, key=b"k", headers=event.headers)
    tools_for_tests.CALLS.clear()
    async with serving(world) as gateway:
        env = {
            "LONGBOAT_KAFKA__BOOTSTRAP_SERVERS": world.settings.kafka.bootstrap_servers,
            "LONGBOAT_TOPIC_PREFIX": world.settings.topic_prefix,
            "LONGBOAT_GATEWAY_URL": f"http://127.0.0.1:{gateway.port}",
            "LONGBOAT_REGISTRY_URL": "http://127.0.0.1:9",
            "LONGBOAT_AGENT__KEY_FILE": str(key_file),
            "LONGBOAT_AGENT__HTTP_PORT": "0",
            "LONGBOAT_AGENT__HEARTBEAT_S": "60",
            "LONGBOAT_AGENT__SESSION_TIMEOUT_MS": "6000",
            "APPROVAL_AGENT_INPUT": input_topic,
            "APPROVAL_AGENT_OUTPUT": output_topic,
        }
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
