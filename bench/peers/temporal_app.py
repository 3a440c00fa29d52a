"""The workload on Temporal, run in its own environment: ``python -m bench.peers.temporal_app``.

One process holds a worker and a Kafka → ``start_workflow`` bridge: the bridge starts a
workflow per record (its id is the event id, duplicates rejected, so a redelivered record is
not run twice) and commits the record's offset once the server has accepted the start. The
workflow runs the three workload steps as activities and a fourth activity produces the
output. ``PEER_TEMPORAL`` is the server's address. Not type-checked: temporalio and aiokafka live
in their own environment (pyproject's mypy excludes this file).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from bench.peers import workload

QUEUE = "peers"
# Temporal has no default: an activity needs a timeout. A killed worker's activity is retried
# when it expires.
TIMEOUT = timedelta(seconds=10)


class Activities:
    """The steps; the output producer is shared by the process."""

    def __init__(self, env: workload.Environment, producer: AIOKafkaProducer) -> None:
        self.env = env
        self.producer = producer

    @activity.defn(name="receive")
    async def receive(self, event: str) -> float:
        return workload.receive(event)

    @activity.defn(name="side_effect")
    async def side_effect(self, event: str) -> float:
        return workload.side_effect(self.env.sink, event)

    @activity.defn(name="produce")
    async def produce(self, event: str, stamps: list[float]) -> None:
        value = workload.output_value(event, stamps)
        await self.producer.send_and_wait(self.env.output, value, key=event.encode())


@workflow.defn(name="peer")
class PeerWorkflow:
    @workflow.run
    async def run(self, event: str) -> None:
        stamps = []
        for name in ("receive", "side_effect", "receive"):
            stamps.append(
                await workflow.execute_activity(name, event, start_to_close_timeout=TIMEOUT)
            )
        await workflow.execute_activity(
            "produce", args=[event, stamps], start_to_close_timeout=TIMEOUT
        )


async def _connect(address: str) -> Client:
    deadline = time.monotonic() + 60
    while True:
        try:
            return await Client.connect(address)
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _start(client: Client, value: bytes) -> None:
    event = workload.event_id(value)
    # Redelivered after a restart: the workflow exists already.
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            PeerWorkflow.run,
            event,
            id=f"peer-{event}",
            task_queue=QUEUE,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )


async def _bridge(client: Client, env: workload.Environment) -> None:
    consumer = AIOKafkaConsumer(
        env.input,
        bootstrap_servers=env.bootstrap,
        group_id=env.group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=100, max_records=500)
            records = [r for batch in batches.values() for r in batch]
            if records:
                await asyncio.gather(*(_start(client, r.value) for r in records))
                await consumer.commit()
    finally:
        await consumer.stop()


async def main() -> None:
    env = workload.Environment()
    client = await _connect(os.environ["PEER_TEMPORAL"])
    producer = AIOKafkaProducer(bootstrap_servers=env.bootstrap, linger_ms=0)
    await producer.start()
    steps = Activities(env, producer)
    worker = Worker(
        client,
        task_queue=QUEUE,
        workflows=[PeerWorkflow],
        activities=[steps.receive, steps.side_effect, steps.produce],
    )
    async with worker:
        await _bridge(client, env)


if __name__ == "__main__":
    asyncio.run(main())
