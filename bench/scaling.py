"""How Longboat's cost grows with its work, on this machine, beside a raw aiokafka loop.

1. Throughput of a one-step agent (sync durability, default checkpoints) against instances x
   partitions (1, 2, 4): each instance its own `longboat run agent` process; records published
   while the instances run; records/s from the first publish to the last output committed.
   Baseline: the raw aiokafka exactly-once loop (one partition, one process) in the same run.
2. Recovery after SIGKILL against the uncommitted backlog: an agent whose checkpoints never fire
   (timer 10 min, adaptive off) has run B records when it is killed; restarted, the time until
   all B outputs are committed (its journal serves the steps that already ran).
3. Replay time against steps per run (10, 100, 1,000): offline replay (no broker) of a run
   recorded by a real agent.
4. Peak memory of an agent process against the partitions it owns (1, 4, 16).

Figures go to stdout; ``--json FILE`` writes them; ``--charts DIR`` draws PNG charts
(matplotlib, installed by ``make bench``).

    python -m bench.scaling [--records 4000] [--quick] [--json F] [--charts DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from pydantic import JsonValue

from bench._broker import bench_broker, machine_line
from bench.agent_throughput import _count_until, _raw_loop, _topics
from longboat import (
    Envelope,
    EnvelopeSerde,
    KafkaSettings,
    TopicNames,
    configure_logging,
)
from longboat.agents import (
    Agent,
    AgentRunner,
    AgentRuntimeSettings,
    AgentSettings,
    Context,
    list_runs,
    load_trace,
    replay_trace,
)
from longboat.devinfra import free_port
from longboat.kafka import Producer

REPO = Path(__file__).resolve().parent.parent


async def _publish(kafka: KafkaSettings, topic: str, start: int, n: int) -> None:
    serde = EnvelopeSerde()
    async with Producer(kafka) as producer:
        futures = []
        for i in range(start, start + n):
            encoded = serde.encode(Envelope(type="bench.in", source="/bench", data={"i": i}))
            futures.append(
                await producer.enqueue(
                    topic, encoded.value, key=str(i).encode(), headers=encoded.headers
                )
            )
        await asyncio.gather(*futures)


def _env(servers: str, prefix: str, source: str, out: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "LONGBOAT_KAFKA__BOOTSTRAP_SERVERS": servers,
        "LONGBOAT_TOPIC_PREFIX": prefix,
        "LONGBOAT_LOG_LEVEL": "warning",
        "BENCH_INPUT": source,
        "BENCH_OUTPUT": out,
        "BENCH_DURABILITY": "sync",
        "PYTHONPATH": str(REPO),
        **extra,
    }


def _spawn(env: dict[str, str], instance: str, port: int) -> subprocess.Popen[bytes]:
    longboat = str(Path(sys.executable).parent / "longboat")
    return subprocess.Popen(
        [longboat, "run", "agent", "bench.bench_agent:agent", "--instance", instance],
        env={**env, "LONGBOAT_AGENT__HTTP_PORT": str(port)},
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(processes: list[subprocess.Popen[bytes]], sig: int = signal.SIGTERM) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(sig)
    for process in processes:
        process.wait(timeout=60)


def _metric(port: int, name: str) -> float:
    """The sum of metric ``name`` on an agent's /metrics (0 when it does not answer yet)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
            text = answer.read().decode()
    except OSError:
        return 0.0
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


def _wait_ready(port: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the agent on :{port} was not ready in {timeout_s} s") from None
            time.sleep(0.1)


def _wait_metric(port: int, name: str, at_least: float, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while _metric(port, name) < at_least:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} on :{port} did not reach {at_least} in {timeout_s} s")
        time.sleep(0.05)


def throughput(servers: str, parts: int, instances: int, n: int) -> float:
    """Records/s of ``instances`` agent processes on ``parts`` partitions."""
    run = uuid.uuid4().hex[:6]
    prefix, source, out = f"g{run}.", f"gin.{run}", f"gout.{run}"
    kafka = KafkaSettings(bootstrap_servers=servers)
    asyncio.run(_topics(kafka, prefix, source, out, parts))
    env = _env(servers, prefix, source, out)
    ports = [free_port() for _ in range(instances)]
    processes = [_spawn(env, f"g{k}", port) for k, port in enumerate(ports)]
    try:
        for port in ports:  # every instance holds partitions: the group has settled
            _wait_ready(port)
        warm = 4 * parts  # every partition gets records: every instance has joined and ran once
        asyncio.run(_publish(kafka, source, 0, warm))
        asyncio.run(_count_until(kafka, out, warm))
        started = time.monotonic()
        asyncio.run(_publish(kafka, source, warm, n))
        finished = asyncio.run(_count_until(kafka, out, warm + n))
    finally:
        _stop(processes)
    return n / (finished - started)


def recovery(servers: str, backlog: int) -> float:
    """Seconds from the restart of a SIGKILLed agent to all ``backlog`` outputs committed."""
    run = uuid.uuid4().hex[:6]
    prefix, source, out = f"v{run}.", f"vin.{run}", f"vout.{run}"
    kafka = KafkaSettings(bootstrap_servers=servers)
    asyncio.run(_topics(kafka, prefix, source, out, 1))
    env = _env(servers, prefix, source, out)
    never = {  # the killed agent never checkpoints: its whole backlog is uncommitted
        "LONGBOAT_AGENT__CHECKPOINT_MS": "600000",
        "LONGBOAT_AGENT__CHECKPOINT_RECORDS": "100000",
        "LONGBOAT_AGENT__CHECKPOINT_ADAPTIVE": "false",
    }
    port = free_port()
    first = _spawn({**env, **never}, "v0", port)
    try:
        asyncio.run(_publish(kafka, source, 0, backlog))
        _wait_metric(port, "longboat_agent_records_processed_total", backlog)
    finally:
        _stop([first], signal.SIGKILL)
    started = time.monotonic()
    second = _spawn(env, "v0", free_port())
    try:
        finished = asyncio.run(_count_until(kafka, out, backlog))
    finally:
        _stop([second])
    return finished - started


def _stepper(source: str, steps: int) -> Agent:
    agent = Agent("bench", topics=[source], tasks=False, durability="sync")

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        total = 0
        for i in range(steps):
            total += int(str(await ctx.step("add", lambda k: k, i)))
        return total

    return agent


async def _replay_time(kafka: KafkaSettings, steps: int) -> float:
    run = uuid.uuid4().hex[:6]
    prefix, source, out = f"r{run}.", f"rin.{run}", f"rout.{run}"
    await _topics(kafka, prefix, source, out, 1)
    settings = AgentSettings(
        kafka=kafka, topic_prefix=prefix, agent=AgentRuntimeSettings(http_port=0)
    )
    agent = _stepper(source, steps)
    async with AgentRunner(agent, settings) as runner:
        task = asyncio.create_task(runner.run())
        await _publish(kafka, source, 0, 1)
        names = TopicNames(prefix)
        deadline = time.monotonic() + 300
        while not [r for r in await list_runs(kafka, names, "bench") if r.outcome == "completed"]:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {steps}-step run did not complete")
            await asyncio.sleep(0.2)
        runner.shutdown()
        await task
    summary = next(r for r in await list_runs(kafka, names, "bench") if r.outcome == "completed")
    trace = await load_trace(kafka, names, summary.run_id, agent="bench")
    started = time.perf_counter()
    report = await replay_trace(agent, trace)
    elapsed = time.perf_counter() - started
    if report.divergence is not None:
        raise RuntimeError(f"replay diverged: {report.divergence}")
    return elapsed


def peak_rss_mb(servers: str, parts: int, n: int) -> float:
    """Peak RSS of one agent process owning ``parts`` partitions after ``n`` records."""
    run = uuid.uuid4().hex[:6]
    prefix, source, out = f"m{run}.", f"min.{run}", f"mout.{run}"
    kafka = KafkaSettings(bootstrap_servers=servers)
    asyncio.run(_topics(kafka, prefix, source, out, parts))
    process = _spawn(_env(servers, prefix, source, out), "m0", free_port())
    try:
        asyncio.run(_publish(kafka, source, 0, n))
        asyncio.run(_count_until(kafka, out, n))
        status = Path(f"/proc/{process.pid}/status").read_text()
        hwm = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
        return int(hwm.split()[1]) / 1024
    finally:
        _stop([process])


def _raw(servers: str, n: int) -> float:
    async def measure() -> float:
        run = uuid.uuid4().hex[:6]
        kafka = KafkaSettings(bootstrap_servers=servers)
        source, out = f"xin.{run}", f"xout.{run}"
        await _topics(kafka, f"x{run}.", source, out, 1)
        await _publish(kafka, source, 0, n)
        return await _raw_loop(servers, source, out, n)

    return asyncio.run(measure())


def _charts(results: dict[str, Any], folder: Path) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no charts (make bench installs it)", file=sys.stderr)
        return []
    folder.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []

    def save(name: str) -> None:
        path = folder / name
        plt.tight_layout()
        plt.savefig(path, dpi=110)
        plt.close()
        made.append(path)

    plt.figure(figsize=(6, 3.6))
    grid = results["throughput"]
    for parts in sorted({g["partitions"] for g in grid}):
        row = [g for g in grid if g["partitions"] == parts]
        plt.plot(
            [g["instances"] for g in row],
            [g["records_per_s"] for g in row],
            marker="o",
            label=f"{parts} partition(s)",
        )
    plt.axhline(results["raw_records_per_s"], linestyle="--", color="grey", label="raw aiokafka")
    plt.xlabel("agent instances (processes)")
    plt.ylabel("records/s")
    plt.title("One-step agent throughput")
    plt.legend()
    save("scaling-throughput.png")

    for key, xlabel, ylabel, title, name in (
        ("recovery", "uncommitted backlog (records)", "seconds", "SIGKILL → all outputs", "r"),
        ("replay", "steps per run", "seconds", "Offline replay of one run", "p"),
        ("rss", "partitions owned", "MiB", "Peak RSS of an agent", "m"),
    ):
        plt.figure(figsize=(6, 3.6))
        points = results[key]
        plt.plot([p["x"] for p in points], [p["y"] for p in points], marker="o")
        plt.xscale("log")
        plt.xlabel(xlabel)
        plt.ylabel(ylabel)
        plt.title(title)
        save({"r": "scaling-recovery.png", "p": "scaling-replay.png", "m": "scaling-rss.png"}[name])
    return made


def main() -> None:
    """Run every measurement, print it, optionally write JSON and charts."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=4000)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--charts", type=Path)
    args = parser.parse_args()
    configure_logging(level="warning", fmt="json", stream=open("/dev/null", "w"))  # noqa: SIM115
    n = 500 if args.quick else args.records
    backlogs = (50, 200) if args.quick else (100, 1000, 5000)
    step_counts = (10, 100) if args.quick else (10, 100, 1000)
    partitions = (1, 4) if args.quick else (1, 4, 16)
    results: dict[str, Any] = {"machine": machine_line(), "date": time.strftime("%Y-%m-%d")}
    print(f"# scaling — {results['machine']}")
    with bench_broker() as servers:
        kafka = KafkaSettings(bootstrap_servers=servers)
        raw = _raw(servers, n)
        results["raw_records_per_s"] = raw
        print(f"raw aiokafka EOS loop, 1 partition: {raw:,.0f} records/s")
        results["throughput"] = []
        for parts in (1, 2, 4):
            for instances in (i for i in (1, 2, 4) if i <= parts):
                rate = throughput(servers, parts, instances, n)
                results["throughput"].append(
                    {"partitions": parts, "instances": instances, "records_per_s": rate}
                )
                print(
                    f"one-step agent, {parts} partition(s) x {instances} instance(s): "
                    f"{rate:,.0f} records/s ({rate / raw:.2f} of raw)"
                )
        results["recovery"] = []
        for backlog in backlogs:
            seconds = recovery(servers, backlog)
            results["recovery"].append({"x": backlog, "y": seconds})
            print(f"SIGKILL with {backlog} uncommitted runs → all outputs: {seconds:.2f} s")
        results["replay"] = []
        for steps in step_counts:
            seconds = asyncio.run(_replay_time(kafka, steps))
            results["replay"].append({"x": steps, "y": seconds})
            print(f"offline replay of a {steps}-step run: {seconds * 1000:.0f} ms")
        results["rss"] = []
        for parts in partitions:
            mib = peak_rss_mb(servers, parts, n)
            results["rss"].append({"x": parts, "y": mib})
            print(f"peak RSS, agent owning {parts} partition(s): {mib:.0f} MiB")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.charts:
        for path in _charts(results, args.charts):
            print(f"chart: {path}")


if __name__ == "__main__":
    main()
