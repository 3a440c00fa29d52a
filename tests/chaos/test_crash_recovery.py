"""Crash tests: SIGKILL a real agent process at each interesting point, restart, count.

Every input must produce exactly one committed output; the side-effecting step must have run
once (sync mode with a reconcile hook), and replayed steps must return the recorded values.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from longboat import Envelope, EnvelopeSerde, KafkaSettings, TopicNames, TopicSpec
from longboat.kafka import Admin, Producer
from tests.helpers import assert_eventually
from tests.integration.agents.conftest import read_committed

LONGBOAT = str(Path(sys.executable).parent / "longboat")
REPO = Path(__file__).resolve().parents[2]
ITEMS = 30


@dataclass
class Chaos:
    """One crash scenario's topics, files and processes."""

    kafka: KafkaSettings
    prefix: str
    input_topic: str
    output_topic: str
    ledger: Path
    log_dir: Path
    processes: list[subprocess.Popen[bytes]]

    def start(
        self, *, faults: str = "", reconcile: bool = True, durability: str = "sync"
    ) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LONGBOAT_")}
        env |= {
            "LONGBOAT_KAFKA__BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "LONGBOAT_TOPIC_PREFIX": self.prefix,
            "LONGBOAT_AGENT__FAULTS": faults,
            "LONGBOAT_AGENT__HTTP_PORT": "0",
            "LONGBOAT_AGENT__CHECKPOINT_RECORDS": "5",
            "LONGBOAT_AGENT__CHECKPOINT_MS": "200",
            "LONGBOAT_AGENT__SESSION_TIMEOUT_MS": "6000",
            "LONGBOAT_LOG_LEVEL": "info",  # service_started tells the test it is running
            "CHAOS_INPUT": self.input_topic,
            "CHAOS_OUTPUT": self.output_topic,
            "CHAOS_SIDE_EFFECTS": str(self.ledger),
            "CHAOS_RECONCILE": "1" if reconcile else "0",
            "CHAOS_DURABILITY": durability,
            "PYTHONPATH": str(REPO),
        }
        log = (self.log_dir / f"agent-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [LONGBOAT, "run", "agent", "tests.chaos.chaos_agent:agent", "--instance", "chaos-1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        self.processes.append(process)
        return process

    def charges(self) -> list[tuple[str, int, str]]:
        if not self.ledger.exists():
            return []
        return [
            (fp, int(item), token)
            for fp, item, token in (
                line.split(" ") for line in self.ledger.read_text().splitlines()
            )
        ]


@pytest.fixture
def chaos(kafka: KafkaSettings, unique: str, tmp_path: Path) -> Iterator[Chaos]:
    """Topics and files for one scenario; every process is killed at the end."""
    world = Chaos(
        kafka,
        f"c{unique}.",
        f"cin.{unique}",
        f"cout.{unique}",
        tmp_path / "charges.txt",
        tmp_path,
        [],
    )
    yield world
    for process in world.processes:
        if process.poll() is None:
            process.kill()
            process.wait()


async def _prepare(chaos: Chaos) -> None:
    names = TopicNames(chaos.prefix)
    specs = names.system_topics(partitions=1) + names.agent_topics("chaos", partitions=2)
    specs += [TopicSpec(chaos.input_topic, 2), TopicSpec(chaos.output_topic, 1)]
    async with Admin(chaos.kafka) as admin:
        await admin.ensure_topics(specs)
    serde = EnvelopeSerde()
    async with Producer(chaos.kafka) as producer:
        for item in range(ITEMS):
            encoded = serde.encode(Envelope(type="chaos.in", source="/tests", data={"id": item}))
            await producer.send(
                chaos.input_topic,
                encoded.value,
                key=f"k{item % 7}".encode(),
                headers=encoded.headers,
            )


async def _wait_exit(process: subprocess.Popen[bytes], timeout_s: float = 90) -> int:
    for _ in range(int(timeout_s * 10)):
        code = process.poll()
        if code is not None:
            return code
        await asyncio.sleep(0.1)
    raise AssertionError(f"agent pid {process.pid} did not exit within {timeout_s}s")


async def _finish_and_collect(chaos: Chaos, **start: object) -> list[dict[str, object]]:
    """Restart cleanly, wait for every output, stop with SIGTERM; return the outputs."""
    process = chaos.start(**start)  # type: ignore[arg-type]
    records = await read_committed(chaos.kafka, chaos.output_topic, ITEMS, timeout_s=120)
    await asyncio.sleep(1.0)  # room for any duplicate to show up before the final read
    records = await read_committed(chaos.kafka, chaos.output_topic, ITEMS, timeout_s=30)
    # The outputs may all predate this process (the kill came late): stop it once it runs, not
    # while it is still importing (a signal then is not the graceful path under test).
    log = chaos.log_dir / f"agent-{len(chaos.processes) - 1}.log"
    await assert_eventually(
        lambda: asyncio.to_thread(log.read_bytes),
        lambda text: b"service_started" in text,
        timeout_s=120,
        what="the restarted agent running",
    )
    process.send_signal(signal.SIGTERM)
    assert await _wait_exit(process) == 0, "graceful shutdown on SIGTERM"
    serde = EnvelopeSerde()
    return [dict(serde.decode(r.value, r.headers).data) for r in records]  # type: ignore[arg-type]


def _assert_exactly_once(chaos: Chaos, outputs: list[dict[str, object]]) -> None:
    ids = Counter(int(str(o["id"])) for o in outputs)
    assert ids == Counter(range(ITEMS)), f"outputs per id: {dict(ids)}"
    charged = Counter(item for _, item, _ in chaos.charges())
    assert charged == Counter(range(ITEMS)), f"side effects per id: {dict(charged)}"
    ledger_tokens = {item: token for _, item, token in chaos.charges()}
    for output in outputs:
        # The committed output carries the token the side effect used: a replayed ctx.uuid()
        # returned the recorded value, not a fresh one.
        assert output["token"] == ledger_tokens[int(str(output["id"]))]


@pytest.mark.parametrize(
    "fault",
    [
        "step.after_run@7",  # a side effect happened, its completion not journalled (in doubt)
        "run.after_handler@9",  # steps done, outputs not committed
        "checkpoint.before_commit@2",  # inside the transaction
        "checkpoint.after_commit@2",  # just after a commit
    ],
)
async def test_sigkill_at_each_point_loses_and_repeats_nothing(chaos: Chaos, fault: str) -> None:
    """SIGKILL at the fault point, restart: one output per input, one side effect per input."""
    await _prepare(chaos)
    first = chaos.start(faults=fault)
    assert await _wait_exit(first) == -signal.SIGKILL, "the fault point fired"
    outputs = await _finish_and_collect(chaos)
    _assert_exactly_once(chaos, outputs)


async def test_in_doubt_step_without_reconcile_reruns_with_the_same_key(chaos: Chaos) -> None:
    """Without a reconcile hook, in-doubt steps run again, with the same idempotency key."""
    await _prepare(chaos)
    first = chaos.start(faults="step.after_run@4", reconcile=False)
    assert await _wait_exit(first) == -signal.SIGKILL
    outputs = await _finish_and_collect(chaos, reconcile=False)
    assert Counter(int(str(o["id"])) for o in outputs) == Counter(range(ITEMS))
    per_id = Counter(item for _, item, _ in chaos.charges())
    assert set(per_id) == set(range(ITEMS))
    twice = [item for item, n in per_id.items() if n > 1]
    # Only steps in flight at the kill were in doubt: at most max_in_flight per partition,
    # and at least the one whose completion the fault point cut off.
    assert 1 <= len(twice) <= 4 * 2, per_id
    assert max(per_id.values()) == 2, per_id
    for item in twice:
        keys = {fp for fp, charged, _ in chaos.charges() if charged == item}
        assert len(keys) == 1  # every re-run carried the same idempotency key


async def test_random_external_sigkills(chaos: Chaos) -> None:
    """kill -9 from outside at random moments, three times, then let it finish: exactly once."""
    await _prepare(chaos)
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    for _ in range(3):
        process = chaos.start()
        await asyncio.sleep(rng.uniform(1.5, 3.5))
        process.kill()
        assert await _wait_exit(process) == -signal.SIGKILL
    outputs = await _finish_and_collect(chaos)
    _assert_exactly_once(chaos, outputs)
