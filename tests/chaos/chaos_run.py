"""The traffic of the fleet chaos run: claims published at a steady rate (through broker
restarts), and a watcher that follows ``lb.workflows.history``, approves the large claims
through the coordinator's API as they ask, and tells when every claim has finished."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

import aiohttp
from pydantic import JsonValue

from longboat import Envelope, EnvelopeSerde, KafkaSettings, TopicNames
from longboat.coordinator import history_entry_of
from longboat.errors import LongboatError
from longboat.fleet import FleetPaths, read_state
from longboat.kafka import Admin, Consumer, Producer, TopicPartition

__all__ = ["LARGE_EVERY", "Publisher", "Watcher"]

Say = Callable[[str], None]
LARGE_EVERY = 20  # one claim in this many is over the approval limit; as often, a post
_FINAL = ("WorkflowCompleted", "WorkflowFailed", "WorkflowRejected", "WorkflowCancelled")
_POSTS = (
    "Great service, the payout arrived the next day",
    "This insurance is a scam, do not trust them",
    "Get rich with crypto, DM me for the link",
)


class Publisher:
    """Publishes the run's claims (and a post every ``LARGE_EVERY`` claims)."""

    def __init__(self, kafka: KafkaSettings, *, tag: str, count: int, rng: random.Random) -> None:
        """Generate ``count`` claims: ids ``claim-<tag>-<i>``, amounts seeded by ``rng``."""
        self.kafka = kafka
        self.claims: dict[str, float] = {}
        for i in range(count):
            large = i % LARGE_EVERY == LARGE_EVERY - 1
            amount = rng.uniform(1500, 5000) if large else rng.uniform(50, 900)
            self.claims[f"claim-{tag}-{i}"] = round(amount, 2)
        self.serde = EnvelopeSerde()

    async def run(self, *, rate: float, deadline: float, say: Say) -> None:
        """Publish every claim at ``rate`` per second; a send the broker misses is sent again."""
        began = time.monotonic()
        async with Producer(self.kafka) as producer:
            for i, (claim_id, amount) in enumerate(self.claims.items()):
                wait = began + i / rate - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                claim: JsonValue = {
                    "claim_id": claim_id,
                    "amount": amount,
                    "policy": "P-778",
                    "description": "household claim",
                    "notes": f"chaos run claim {i}: photos attached",
                }
                await self._send(producer, "claims.submitted", claim_id, claim, deadline)
                if i % LARGE_EVERY == 0:
                    text = _POSTS[i % len(_POSTS)]
                    post: JsonValue = {"post_id": f"post-{claim_id}", "text": text, "author": "ana"}
                    await self._send(producer, "content.posted", claim_id, post, deadline)
                if i and i % 500 == 0:
                    say(f"published {i} claims")
        say(f"published all {len(self.claims)} claims")

    async def _send(
        self,
        producer: Producer,
        topic: str,
        key: str,
        data: JsonValue,
        deadline: float,
    ) -> None:
        envelope = Envelope(type=topic, source="/chaos", data=data)
        encoded = self.serde.encode(envelope)
        while True:
            try:
                await producer.send(topic, encoded.value, key=key.encode(), headers=encoded.headers)
                return
            except LongboatError:
                # The broker is restarting: the same event again (a repeated trigger starts
                # nothing twice; the coordinator keys workflows by claim id).
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1)


class Watcher:
    """Follows the workflow history; approves large claims; counts finished workflows."""

    def __init__(
        self, kafka: KafkaSettings, names: TopicNames, paths: FleetPaths, claims: set[str]
    ) -> None:
        """Watch the ``claims`` of the fleet at ``paths``."""
        self.kafka = kafka
        self.names = names
        self.paths = paths
        self.claims = claims
        self.done: set[str] = set()
        self.to_approve: set[str] = set()
        self.approved: set[str] = set()

    @property
    def finished(self) -> int:
        """How many of the claims reached a final state."""
        return len(self.done)

    async def run(self, deadline: float, say: Say) -> None:
        """Follow the history until cancelled (or the deadline)."""
        async with Admin(self.kafka) as admin:
            count = await admin.partition_count(self.names.workflows_history)
        tps = [TopicPartition(self.names.workflows_history, p) for p in range(count)]
        token = self.paths.operator_token.read_text().strip()
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            Consumer(self.kafka, max_poll_records=2000) as consumer,
            aiohttp.ClientSession(headers=headers) as session,
        ):
            consumer.assign(tps)
            await consumer.seek_to_beginning(tps)
            reported = time.monotonic()
            while time.monotonic() < deadline:
                await self._poll(consumer)
                await self._approve(session)
                if time.monotonic() - reported > 15:
                    reported = time.monotonic()
                    say(f"{self.finished} workflows finished, {len(self.approved)} approved")

    async def _poll(self, consumer: Consumer) -> None:
        try:
            records = await consumer.poll(timeout_ms=500)
        except LongboatError:
            await asyncio.sleep(1)  # the broker is restarting; the consumer reconnects
            return
        serde = EnvelopeSerde()
        for raw in records:
            key = raw.key.decode() if raw.key else ""
            if key not in self.claims:
                continue
            entry = history_entry_of(serde.decode(raw.value, raw.headers))
            if entry is None:
                continue
            if entry.type == "ApprovalRequested":
                self.to_approve.add(key)
            elif entry.type in _FINAL:
                self.done.add(key)

    async def _approve(self, session: aiohttp.ClientSession) -> None:
        state = read_state(self.paths)
        if state is None:
            return
        signal = {"signal": "approve", "by": "chaos-operator", "note": "checked"}
        for claim_id in sorted(self.to_approve - self.approved):
            url = f"{state.coordinator_url}/v1/workflows/{claim_id}/signals"
            try:
                async with session.post(url, json=signal) as response:
                    if response.status == 202:
                        self.approved.add(claim_id)
            except aiohttp.ClientError:
                return  # the coordinator is restarting: the supervisor brings it back

    async def until_done(self, deadline: float) -> None:
        """Wait until every claim finished, or the deadline."""
        while self.finished < len(self.claims) and time.monotonic() < deadline:  # noqa: ASYNC110 - two conditions, one is the clock
            await asyncio.sleep(1)
