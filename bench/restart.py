"""How fast a SIGKILLed agent is back at work, and what the restart spends its time on.

A one-step agent (`longboat run agent bench.bench_agent:agent`, sync durability, static
instance id as in a fleet) processes a stream; it is SIGKILLed, more records arrive, and the
same command is started again. Measured from the new process's spawn: its own log lines
(JSON, with timestamps) mark the phases, the first new output readable on the output topic
(read_committed) ends the restart. The baseline is the interpreter alone (``python -c pass``)
and the imports alone (what ``longboat run agent`` imports before it connects: click and the
agent runtime's names it uses), measured in the same run.

    python -m bench.restart [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

from bench._broker import bench_broker, machine_line
from bench.agent_throughput import _publish, _topics
from longboat import KafkaSettings
from longboat.kafka import Consumer
from longboat.kafka import TopicPartition as LbTopicPartition

REPO = Path(__file__).resolve().parent.parent
PHASES = ("service_started", "partition_restored", "partitions_assigned")
# What `longboat run agent` imports before it connects (the package names are lazy).
RUN_AGENT_IMPORTS = (
    "import click; from longboat.agents import AgentRunner, AgentSettings, load_agent"
)


def _spawn(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], float]:
    longboat = str(Path(sys.executable).parent / "longboat")
    started = time.time()
    process = subprocess.Popen(
        [longboat, "run", "agent", "bench.bench_agent:agent", "--instance", "restart-0"],
        env=env,
        cwd=REPO,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    return process, started


async def _first_output_after(kafka: KafkaSettings, topic: str, offset: int) -> float:
    """Wall-clock time at which a record at or past ``offset`` is readable."""
    tp = LbTopicPartition(topic, 0)
    async with Consumer(kafka, isolation_level="read_committed") as consumer:
        consumer.assign([tp])
        consumer.seek(tp, offset)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if await consumer.poll(timeout_ms=5):
                return time.time()
    raise RuntimeError("no output within 120 s of the restart")


async def _end(kafka: KafkaSettings, topic: str) -> int:
    tp = LbTopicPartition(topic, 0)
    async with Consumer(kafka, isolation_level="read_committed") as consumer:
        return (await consumer.end_offsets([tp]))[tp]


def _phases(log: Path, since: float) -> dict[str, float]:
    """Seconds from ``since`` to the first log line of each phase written after it."""
    found: dict[str, float] = {}
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        event, stamp = entry.get("event"), entry.get("timestamp")
        if event not in PHASES or event in found or not isinstance(stamp, str):
            continue
        at = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        if at >= since:
            found[event] = at - since
    return found


def _timed(*argv: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, *argv], check=True, cwd=REPO)
    return time.perf_counter() - started


def _round(servers: str, log: Path) -> tuple[float, dict[str, float]]:
    run = uuid.uuid4().hex[:6]
    prefix, source, out = f"s{run}.", f"sin.{run}", f"sout.{run}"
    kafka = KafkaSettings(bootstrap_servers=servers)
    asyncio.run(_topics(kafka, prefix, source, out))
    env = {
        **os.environ,
        "LONGBOAT_KAFKA__BOOTSTRAP_SERVERS": servers,
        "LONGBOAT_TOPIC_PREFIX": prefix,
        "LONGBOAT_AGENT__HTTP_PORT": "0",
        "LONGBOAT_LOG_LEVEL": "info",
        "LONGBOAT_LOG_FORMAT": "json",
        "BENCH_INPUT": source,
        "BENCH_OUTPUT": out,
        "BENCH_DURABILITY": "sync",
        "PYTHONPATH": str(REPO),
    }
    asyncio.run(_publish(kafka, source, 50))
    first, _ = _spawn(env, log)
    try:
        asyncio.run(_first_output_after(kafka, out, 0))
        end = asyncio.run(_end(kafka, out))
        while end < 50:
            time.sleep(0.05)
            end = asyncio.run(_end(kafka, out))
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    asyncio.run(_publish(kafka, source, 20))  # the backlog the restarted agent finds
    second, started = _spawn(env, log)
    try:
        back = asyncio.run(_first_output_after(kafka, out, end))
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=60)
    return back - started, _phases(log, started)


def main() -> None:
    """Run the rounds and print the median of each figure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with bench_broker() as servers:
        log = Path(tempfile.mkstemp(prefix="longboat-bench-restart-", suffix=".log")[1])
        totals: list[float] = []
        phases: dict[str, list[float]] = {p: [] for p in PHASES}
        for _ in range(args.rounds):
            total, marks = _round(servers, log)
            totals.append(total)
            for name, value in marks.items():
                phases[name].append(value)
        interpreter = statistics.median(_timed("-c", "pass") for _ in range(5))
        imports = statistics.median(_timed("-c", RUN_AGENT_IMPORTS) for _ in range(5))
    print(f"# restart — {machine_line()}")
    print(f"python -c pass                          : {interpreter * 1000:6.0f} ms")
    print(f"imports of `longboat run agent`         : {imports * 1000:6.0f} ms")
    for name in PHASES:
        if phases[name]:
            print(f"spawn → {name:<31}: {statistics.median(phases[name]) * 1000:6.0f} ms")
    median, low, high = (statistics.median(totals), min(totals), max(totals))
    print(
        f"spawn → first new output (20 waiting)  : {median * 1000:6.0f} ms"
        f" median of {len(totals)} (min {low * 1000:.0f}, max {high * 1000:.0f})"
    )
    log.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
