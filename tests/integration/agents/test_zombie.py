"""Zombie fencing: an instance whose partition was taken over cannot commit its outputs."""

from __future__ import annotations

import asyncio

from pydantic import JsonValue

from longboat import Envelope
from longboat.agents import Agent, Context
from longboat.agents._partition import transactional_id
from longboat.kafka import Admin, TopicPartition, TransactionalProducer
from tests.helpers import assert_eventually
from tests.integration.agents.conftest import AgentWorld, running


async def test_fenced_instance_cannot_commit_output(world: AgentWorld) -> None:
    """Once a new owner takes the partition's transactional id, the old one's run is lost."""
    await world.create("zombie")
    entered, release = asyncio.Event(), asyncio.Event()
    agent = Agent("zombie", topics=[world.input_topic])

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        entered.set()
        await release.wait()
        ctx.emit(world.output_topic, event.caused(type="test.output", source="/t", data="zombie"))
        return None

    tp = TopicPartition(world.input_topic, 0)
    group = agent.group_id(world.names)
    async with running(agent, world.agent_settings(instance="old")) as runner:
        await world.publish([("k", "hold")])
        await asyncio.wait_for(entered.wait(), 30)
        # What a new owner does first on assignment: take the partition's transactional id.
        async with TransactionalProducer(world.kafka, transactional_id=transactional_id(group, tp)):
            pass
        release.set()
        worker = runner._workers[tp]
        await assert_eventually(lambda: _lost(worker), bool, what="old worker fenced")
    # The run completed in the zombie, but nothing it produced became visible, and the
    # committed offset did not move: the new owner will run the record again.
    async with Admin(world.kafka) as admin:
        committed = (await admin.committed(group, [tp])).get(tp)
    assert committed is None or committed.offset == 0  # never past the held record
    visible = await _visible_count(world)
    assert visible == 0


async def _lost(worker: object) -> bool:
    return bool(getattr(worker, "lost", False))


async def _visible_count(world: AgentWorld) -> int:
    from longboat.kafka import Consumer

    tp = TopicPartition(world.output_topic, 0)
    async with Consumer(world.kafka, isolation_level="read_committed") as consumer:
        consumer.assign([tp])
        await consumer.seek_to_beginning([tp])
        seen = []
        for _ in range(5):
            seen.extend(await consumer.poll(timeout_ms=200))
        return len(seen)
