"""Where a record's time goes: a one-step agent and the raw aiokafka loop under cProfile.

Both consume the same number of pre-published records from a one-partition topic on the same
broker and write one output per input exactly once (as in ``bench.agent_throughput``). Each runs
in this process under :mod:`cProfile`; the own time of every function is summed by where the
function lives (aiokafka's protocol and client code, the event loop and sockets, the agent
runtime, the kernel's envelope and serde, pydantic, logging, ...) and printed as microseconds
per record and as a share. The profiler slows call-heavy code more than C code, so the shares,
not the absolute figures, are the finding; the wall-clock records/s without the profiler come
first for scale.

    python -m bench.profile_agent [--records 20000] [--durability sync]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable

from bench import bench_agent
from bench._broker import bench_broker, machine_line
from bench.agent_throughput import _publish, _raw_loop, _topics
from longboat import KafkaSettings, configure_logging
from longboat.agents import AgentRunner, AgentRuntimeSettings, AgentSettings
from longboat.kafka import Admin, TopicPartition

# First match wins: (label, fragments of the function's file path).
_CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("aiokafka: record batches, protocol encode/decode", ("aiokafka/record", "aiokafka/protocol")),
    ("aiokafka: client, producer, consumer, fetcher", ("aiokafka/",)),
    (
        "kernel: envelope, serde, kafka wrappers",
        ("longboat/_envelope", "longboat/_serde", "longboat/kafka/", "longboat/_cloudevents"),
    ),
    ("agent runtime: runs, journal, steps, checkpoints", ("longboat/agents/", "/agents/")),
    ("other longboat code", ("longboat/",)),
    ("pydantic validation and serialisation", ("pydantic",)),
    ("logging (structlog, logging)", ("structlog", "/logging/")),
    ("event loop, selectors, sockets", ("asyncio/", "selectors", "socket", "ssl")),
    ("json, hashing, uuid", ("json", "hashlib", "uuid", "base64")),
)


_IDLE = "idle: the event loop waiting in epoll (not counted)"


def _category(filename: str, name: str) -> str:
    if filename.startswith(("~", "<")):
        if "epoll" in name:
            return _IDLE
        if any(io in name for io in ("send", "recv", "socket")):
            return "socket syscalls (send, recv)"
        if any(serde in name for serde in ("json", "orjson", "pydantic_core", "encode", "decode")):
            return "C serialisation (json, pydantic-core, str encode/decode)"
        return "other C built-ins (time, dict, list, struct, zlib ...)"
    for label, fragments in _CATEGORIES:
        if any(fragment in filename for fragment in fragments):
            return label
    return "other (stdlib, typing, ...)"


def _top(profile: cProfile.Profile, n: int, records: int) -> None:
    """The ``n`` functions with the most own time, outside the idle wait."""
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
    raw = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    busy = [(key, row) for key, row in raw.items() if _category(key[0], key[2]) != _IDLE]
    busy.sort(key=lambda item: -item[1][2])
    print("| function (own time) | calls/record | us/record |\n|---|---|---|")
    for (filename, line, name), (_cc, calls, tottime, _ct, _callers) in busy[:n]:
        where = f"{filename.rsplit('site-packages/', 1)[-1].rsplit('/work/', 1)[-1]}:{line}"
        print(f"| `{name}` {where} | {calls / records:.1f} | {tottime / records * 1e6:,.1f} |")


def _by_category(profile: cProfile.Profile) -> dict[str, float]:
    stats = pstats.Stats(profile)
    totals: dict[str, float] = defaultdict(float)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, object]] = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        totals[_category(filename, name)] += tottime
    return dict(totals)


async def _prepared(kafka: KafkaSettings, n: int) -> tuple[str, str, str]:
    """Topics with ``n`` records waiting on the source: (prefix, source, out)."""
    run = uuid.uuid4().hex[:6]
    prefix, source, out = f"p{run}.", f"pin.{run}", f"pout.{run}"
    await _topics(kafka, prefix, source, out)
    await _publish(kafka, source, n)
    return prefix, source, out


async def _agent(
    kafka: KafkaSettings, durability: str, n: int, topics: tuple[str, str, str]
) -> float:
    """Records/s of the agent; done when its group has committed all ``n`` inputs.

    Polling the committed offset (one admin request per 50 ms) keeps a counting consumer's
    own fetching out of the profile.
    """
    prefix, source, out = topics
    settings = AgentSettings(
        kafka=kafka, topic_prefix=prefix, agent=AgentRuntimeSettings(http_port=0)
    )
    agent = bench_agent.build(durability, source, out)
    tp = TopicPartition(source, 0)
    async with Admin(kafka) as admin, AgentRunner(agent, settings) as runner:
        task = asyncio.create_task(runner.run())
        started = time.monotonic()
        while True:  # the runner signals nothing per record; the committed offset is the truth
            if (await admin.group_offsets(runner.group_id)).get(tp, 0) >= n:
                break
            await asyncio.sleep(0.05)
        finished = time.monotonic()
        runner.shutdown()
        await task
    return n / (finished - started)


def _profiled(
    measure: Callable[[], Awaitable[float]],
) -> tuple[float, dict[str, float], cProfile.Profile]:
    profile = cProfile.Profile()

    async def run() -> float:
        profile.enable()
        try:
            return await measure()
        finally:
            profile.disable()

    return asyncio.run(run()), _by_category(profile), profile


def _print(name: str, n: int, rate: float, profiled_rate: float, totals: dict[str, float]) -> None:
    idle = totals.pop(_IDLE, 0.0)
    whole = sum(totals.values())
    print(f"\n{name}: {rate:,.0f} records/s without the profiler, {profiled_rate:,.0f} with it")
    print("| where (own time of the functions) | us/record | share |\n|---|---|---|")
    for label, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        if seconds / whole >= 0.005:
            print(f"| {label} | {seconds / n * 1e6:,.1f} | {seconds / whole:.0%} |")
    print(f"| **all busy time** | **{whole / n * 1e6:,.1f}** | 100% |")
    print(f"(and {idle / n * 1e6:,.1f} us/record idle in epoll)")


def main() -> None:
    """Run both profiles on one broker and print where the time goes."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--durability", default="sync", choices=["sync", "async"])
    args = parser.parse_args()
    configure_logging(level="warning")
    n: int = args.records
    print(machine_line())
    with bench_broker() as servers:
        kafka = KafkaSettings(bootstrap_servers=servers)

        def prepared() -> tuple[str, str, str]:
            return asyncio.run(_prepared(kafka, n))

        plain = [prepared() for _ in range(4)]
        raw_rate = asyncio.run(_raw_loop(servers, plain[0][1], plain[0][2], n))
        agent_rate = asyncio.run(_agent(kafka, args.durability, n, plain[1]))
        raw_profiled, raw_totals, _ = _profiled(
            lambda: _raw_loop(servers, plain[2][1], plain[2][2], n)
        )
        agent_profiled, agent_totals, agent_profile = _profiled(
            lambda: _agent(kafka, args.durability, n, plain[3])
        )
    _print("raw aiokafka exactly-once loop", n, raw_rate, raw_profiled, raw_totals)
    _print(
        f"one-step agent ({args.durability} durability)",
        n,
        agent_rate,
        agent_profiled,
        agent_totals,
    )
    print("\nthe agent's costliest functions:")
    _top(agent_profile, 15, n)
    print(f"\nagent / raw throughput without the profiler: {agent_rate / raw_rate:.2f}")


if __name__ == "__main__":
    main()
