"""The three phases every system goes through, measured from outside its worker process.

1. Low load: events published at a steady rate; event → output latency (the time in the
   input record to the output being readable, read_committed) and per-step overhead (the
   step times in the output record).
2. Full load: a backlog published before the worker starts; events/s from its first output
   to its last, and the worker's peak RSS.
3. Restart: a backlog, the worker SIGKILLed once a quarter of it is out, started again;
   spawn → first new output and → all outputs, then duplicates (sink lines and outputs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from pydantic import JsonValue

from bench.peers._servers import peak_rss_mb
from bench.peers._stats import Duplicates, count_duplicates, per_step
from longboat import Envelope, EnvelopeSerde, KafkaSettings, TopicNames, TopicSpec
from longboat.kafka import Admin, Producer

__all__ = ["FullLoad", "LowLoad", "Restart", "Worker", "full_load", "low_load", "restart"]

REPO = Path(__file__).resolve().parents[2]
DEADLINE_S = 1800.0  # a phase that has not finished by then is reported as failed


@dataclass(frozen=True, slots=True)
class Worker:
    """How to start one system's worker: the command and its extra environment.

    ``env`` may use ``{prefix}`` (a per-phase topic prefix, for Longboat's own topics) and
    ``{bootstrap}`` (the broker).
    """

    argv: list[str]
    env: dict[str, str]


@dataclass(slots=True)
class Outputs:
    """Every output record seen: id, step times, when it was readable, its offset."""

    ids: list[str] = field(default_factory=list)
    stamps: list[list[float]] = field(default_factory=list)
    seen_at: list[float] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    first_at: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class Phase:
    """One phase's topics, sink file, worker log and outputs."""

    kafka: KafkaSettings
    worker: Worker
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    outputs: Outputs = field(default_factory=Outputs)
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="lb-peers-")))

    @property
    def input(self) -> str:
        """The input topic."""
        return f"peers.in.{self.run}"

    @property
    def output(self) -> str:
        """The output topic."""
        return f"peers.out.{self.run}"

    def ids(self, n: int) -> list[str]:
        """``n`` event ids, unique across phases (a peer's server outlives a phase)."""
        return [f"{self.run}-{i}" for i in range(n)]

    @property
    def sink(self) -> Path:
        """The side-effect sink file."""
        return self.folder / "sink.txt"

    async def topics(self) -> None:
        """The input and output topics, and Longboat's own topics under the phase's prefix."""
        names = TopicNames(f"p{self.run}.")
        specs = names.system_topics(partitions=1) + names.agent_topics("peer", partitions=1)
        async with Admin(self.kafka) as admin:
            await admin.ensure_topics([*specs, TopicSpec(self.input, 1), TopicSpec(self.output, 1)])

    def spawn(self) -> subprocess.Popen[bytes]:
        """Start the worker (its own process group, its output in the phase's log)."""
        fill = {"prefix": f"p{self.run}.", "bootstrap": self.kafka.bootstrap_servers}
        env = {k: v.format(**fill) for k, v in self.worker.env.items()}
        env |= {
            "PEER_BOOTSTRAP": self.kafka.bootstrap_servers,
            "PEER_INPUT": self.input,
            "PEER_OUTPUT": self.output,
            "PEER_SINK": str(self.sink),
            "PEER_GROUP": f"peers.{self.run}",
            "PYTHONPATH": str(REPO),
        }
        with (self.folder / "worker.log").open("ab") as log:
            return subprocess.Popen(
                self.worker.argv,
                env={**os.environ, **env},
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def watch(self) -> None:
        """Record every output record (read_committed) until cancelled."""
        consumer = AIOKafkaConsumer(
            self.output,
            bootstrap_servers=self.kafka.bootstrap_servers,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=20, max_records=5000)
                now = time.time()
                for record in (r for batch in batches.values() for r in batch):
                    data = json.loads(record.value)
                    event = str(data["id"])
                    self.outputs.ids.append(event)
                    self.outputs.stamps.append([float(s) for s in data["stamps"]])
                    self.outputs.seen_at.append(now)
                    self.outputs.offsets.append(record.offset)
                    self.outputs.first_at.setdefault(event, now)
        finally:
            await consumer.stop()

    async def until(self, done: Callable[[], bool], what: str) -> float:
        """Poll until ``done()``; the time it became true. Raises after ``DEADLINE_S``."""
        deadline = time.monotonic() + DEADLINE_S
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not within {DEADLINE_S:.0f} s (log {self.folder})")
            await asyncio.sleep(0.01)
        return time.time()

    async def settle(self, quiet_s: float = 3.0) -> None:
        """Wait until no output has arrived for ``quiet_s`` (late duplicates included)."""
        count = -1
        while count != len(self.outputs.ids):
            count = len(self.outputs.ids)
            await asyncio.sleep(quiet_s)

    def close(self) -> None:
        """Remove the phase's folder (kept when the phase fails, for its worker log)."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def duplicates(self, expected: list[str]) -> Duplicates:
        """Duplicate side effects and outputs so far."""
        lines = self.sink.read_text().splitlines() if self.sink.exists() else []
        return count_duplicates(lines, self.outputs.ids, expected)


async def publish(
    kafka: KafkaSettings, topic: str, ids: list[str], *, gap_s: float = 0
) -> dict[str, float]:
    """Publish one event per id (``gap_s`` apart, or all at once); the time each was sent."""
    serde = EnvelopeSerde()
    async with Producer(kafka, linger_ms=0 if gap_s else 5) as producer:
        started = time.monotonic()
        pending, sent = [], {}
        for i, event in enumerate(ids):
            if gap_s:  # an absolute schedule: a slow send does not shift the later ones
                await asyncio.sleep(max(0.0, started + i * gap_s - time.monotonic()))
            sent[event] = time.time()
            data: dict[str, JsonValue] = {"id": event, "sent": sent[event]}
            encoded = serde.encode(Envelope(type="peer.in", source="/bench/peers", data=data))
            key = str(i % 64).encode()
            pending.append(
                await producer.enqueue(topic, encoded.value, key=key, headers=encoded.headers)
            )
        await asyncio.gather(*pending)
    return sent


def stop(process: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM) -> None:
    """Signal the worker's process group and wait for the worker (SIGKILL after 30 s)."""
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    with contextlib.suppress(ProcessLookupError):  # what is left of the group (its children)
        os.killpg(process.pid, signal.SIGKILL)


async def _end_offset(kafka: KafkaSettings, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        return int((await consumer.end_offsets([partition]))[partition])
    finally:
        await consumer.stop()


@dataclass(frozen=True, slots=True)
class LowLoad:
    """Event → output latencies and per-step overheads (seconds), peak RSS (MB)."""

    latencies: list[float]
    steps: list[float]
    pickup: list[float]  # event sent → its first step ran
    finish: list[float]  # its last step ran → its output readable
    rss_mb: float


@dataclass(frozen=True, slots=True)
class FullLoad:
    """Events/s from the first output to the last, peak RSS (MB)."""

    rate: float
    rss_mb: float


@dataclass(frozen=True, slots=True)
class Restart:
    """Seconds from the new worker's spawn to its first new output and to all outputs."""

    first_s: float
    all_s: float
    duplicates: Duplicates


async def _watching(phase: Phase) -> asyncio.Task[None]:
    await phase.topics()
    return asyncio.create_task(phase.watch())


async def _stop_watching(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def low_load(kafka: KafkaSettings, worker: Worker, *, events: int, rate: float) -> LowLoad:
    """``events`` published ``1/rate`` apart after one warm-up event has come out."""
    phase = Phase(kafka, worker)
    watching = await _watching(phase)
    process = phase.spawn()
    try:
        warm = f"{phase.run}-warm-up"
        await publish(kafka, phase.input, [warm])
        await phase.until(lambda: warm in phase.outputs.first_at, "the warm-up output")
        ids = phase.ids(events)
        sent = await publish(kafka, phase.input, ids, gap_s=1 / rate)
        await phase.until(lambda: len(phase.outputs.first_at) > events, "the low-load outputs")
        rss = peak_rss_mb(process.pid)
    finally:
        stop(process)
        await _stop_watching(watching)
    phase.close()
    first_at = phase.outputs.first_at
    stamps = {i: s for i, s in zip(phase.outputs.ids, phase.outputs.stamps, strict=True)}
    return LowLoad(
        latencies=[first_at[event] - sent[event] for event in ids],
        steps=per_step(stamps[event] for event in ids),
        pickup=[stamps[event][0] - sent[event] for event in ids],
        finish=[first_at[event] - stamps[event][-1] for event in ids],
        rss_mb=rss,
    )


async def full_load(kafka: KafkaSettings, worker: Worker, *, events: int) -> FullLoad:
    """``events`` published before the worker starts; its rate from first to last output."""
    phase = Phase(kafka, worker)
    await phase.topics()
    await publish(kafka, phase.input, phase.ids(events))
    watching = asyncio.create_task(phase.watch())
    process = phase.spawn()
    try:
        await phase.until(lambda: len(phase.outputs.first_at) >= events, "the full-load outputs")
        rss = peak_rss_mb(process.pid)
    finally:
        stop(process)
        await _stop_watching(watching)
    phase.close()
    times = phase.outputs.first_at.values()
    return FullLoad(events / max(max(times) - min(times), 1e-9), rss)


async def restart(kafka: KafkaSettings, worker: Worker, *, events: int) -> Restart:
    """A backlog; SIGKILL once a quarter is out; the same worker again; until all are out."""
    phase = Phase(kafka, worker)
    await phase.topics()
    ids = phase.ids(events)
    await publish(kafka, phase.input, ids)
    watching = asyncio.create_task(phase.watch())
    process = phase.spawn()
    try:
        await phase.until(lambda: len(phase.outputs.first_at) >= events // 4, "a quarter out")
        stop(process, signal.SIGKILL)
        end = await _end_offset(kafka, phase.output)  # anything at or past it is new
        spawned = time.time()
        process = phase.spawn()
        offsets = phase.outputs.offsets
        await phase.until(lambda: bool(offsets) and offsets[-1] >= end, "the first new output")
        first = next(t for o, t in zip(offsets, phase.outputs.seen_at, strict=False) if o >= end)
        await phase.until(lambda: len(phase.outputs.first_at) >= events, "all outputs")
        await phase.settle()
        duplicates = phase.duplicates(ids)
    finally:
        stop(process)
        await _stop_watching(watching)
    phase.close()
    last = max(phase.outputs.first_at.values())
    return Restart(first - spawned, last - spawned, duplicates)
