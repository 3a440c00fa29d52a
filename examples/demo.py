"""The end-to-end demo behind `make demo`: a claim workflow with specialists, a gate and a human.

Runs against the local Kafka that `longboat dev up` started (its address comes from
.longboat/dev/state.json): creates topics under a fresh prefix, starts the coordinator and five
specialist agents in this process, submits a small and a large claim, approves the large one
the way an operator would (a signal), and prints what happened.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from pathlib import Path

from pydantic import JsonValue

from examples import claims, triage
from longboat import (
    Envelope,
    EnvelopeSerde,
    TopicNames,
    TopicSpec,
    configure_logging,
    load_settings,
)
from longboat.agents import Agent, AgentRunner, AgentRuntimeSettings, AgentSettings
from longboat.coordinator import (
    CoordinatorService,
    CoordinatorServiceSettings,
    CoordinatorSettings,
    SignalData,
    read_history,
    signal_event,
)
from longboat.kafka import Admin, Producer

EXAMPLE = Path(__file__).resolve().parent / "workflows" / "claim-intake.yaml"


def _specialists() -> list[Agent]:
    """The example specialists of the workflow (examples/triage.py, examples/claims.py).

    triage also listens to ``claims.submitted`` as an ambient agent; here it takes only its tasks
    (the demo's topics live under a fresh prefix), so the same handler runs as a tasks-only agent.
    """
    return [
        Agent("triage", handler=triage.agent.handle),
        claims.fraud,
        claims.coverage,
        claims.payments,
        claims.notifier,
    ]


async def _until(what: str, check: object, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"demo: timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def main() -> None:
    """Run the demo."""
    configure_logging(level="error")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # transient leader moves on new topics
    base = load_settings()
    prefix = f"demo{uuid.uuid4().hex[:6]}."
    names = TopicNames(prefix)
    claims_topic = f"{prefix}claims.submitted"
    specs = names.system_topics(partitions=1)
    specialists = _specialists()
    specs += names.coordinator_topics(partitions=1)
    for agent in specialists:
        specs += names.agent_topics(agent.name, partitions=1)
    async with Admin(base.kafka) as admin:
        await admin.ensure_topics([*specs, TopicSpec(claims_topic, 1)])
    print(f"topics created under {prefix!r} on {base.kafka.bootstrap_servers}")

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "claim-intake.yaml").write_text(
            EXAMPLE.read_text()
            .replace("topic: claims.submitted", f"topic: {claims_topic}")
            .replace("seconds: 5", "seconds: 1")
        )
        settings = CoordinatorSettings(
            kafka=base.kafka,
            topic_prefix=prefix,
            coordinator=CoordinatorServiceSettings(
                definitions=Path(folder), port=0, instance="demo"
            ),
        )
        runners = [
            AgentRunner(
                agent,
                AgentSettings(
                    kafka=base.kafka,
                    topic_prefix=prefix,
                    agent=AgentRuntimeSettings(instance=f"demo-{agent.name}", http_port=0),
                ),
            )
            for agent in specialists
        ]
        # Every service has the same lifecycle: enter them all, run them all, shut them down.
        async with AsyncExitStack() as stack, asyncio.TaskGroup() as group:
            coordinator = await stack.enter_async_context(CoordinatorService(settings))
            for runner in runners:
                await stack.enter_async_context(runner)
            for service in (coordinator, *runners):
                group.create_task(service.run())
            print(
                f"coordinator and {len(runners)} specialists running; Mission Control: http://127.0.0.1:{coordinator.port}/"
            )
            await _until("agents", lambda: coordinator.ready() and all(r.ready() for r in runners))
            serde = EnvelopeSerde()
            async with Producer(base.kafka) as producer:
                for claim_id, amount in (("claim-1", 240.0), ("claim-2", 4800.0)):
                    data: JsonValue = {
                        "claim_id": claim_id,
                        "amount": amount,
                        "policy": "P-778",
                        "description": "water damage",
                    }
                    encoded = serde.encode(
                        Envelope(type="claims.submitted", source="/demo", data=data)
                    )
                    await producer.send(
                        claims_topic, encoded.value, key=claim_id.encode(), headers=encoded.headers
                    )
                    print(f"submitted {claim_id} ({amount:.2f} EUR)")

                def status(workflow_id: str) -> str | None:
                    record = coordinator.engine.record(workflow_id)
                    return record.state.status if record else None

                await _until(
                    "claim-2 at the approval gate", lambda: status("claim-2") == "waiting_approval"
                )
                print(
                    "claim-2 waits for a human (no process waits on it); approving it as 'operator'"
                )
                signal = serde.encode(
                    signal_event(
                        "claim-2",
                        SignalData(signal="approve", by="operator", note="photos checked"),
                    )
                )
                await producer.send(
                    names.signals, signal.value, key=b"claim-2", headers=signal.headers
                )
                await _until(
                    "both claims completed",
                    lambda: status("claim-1") == status("claim-2") == "completed",
                )
            for service in (coordinator, *runners):
                service.shutdown()
        for workflow_id in ("claim-1", "claim-2"):
            history = await read_history(settings, workflow_id)
            print(f"\nhistory of {workflow_id}:")
            for entry in history:
                print(f"  {entry.type:<24} {json.dumps(entry.data)}")
        print("\npayments made (exactly once each):")
        for line in claims.PAYMENTS:
            print(f"  {line}")


if __name__ == "__main__":
    asyncio.run(main())
