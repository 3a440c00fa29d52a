"""Per-request time under hostile input, beside a benign request in the same run.

A ``longboat run gateway`` process on a real broker and OPA; a closed loop of ``--repeat``
requests per case, one at a time, each with a fresh agent token. Cases: a benign memory write,
then the shapes issue 11 reported (one long unbroken "word" of many kinds at the body limit,
obfuscated PII, an uncapable agent's huge write, an oversize body, non-finite numbers, a
forged token). Also ``/livez`` latency while a second client keeps sending the worst writes.
Prints p50/max in ms and the ratio of each p50 to the benign p50: the budget is that ratio.

    python -m bench.adversarial_budget [--repeat 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid

import aiohttp

from bench._broker import bench_broker, machine_line
from bench._gateway import bench_opa, prepare_gateway, running_gateway
from longboat import KafkaSettings
from longboat.gateway import classify
from longboat.registry import TokenIssuer, generate_key

LIMIT = 256 * 1024  # the gateway's body limit (MAX_VALUE_BYTES)


def _word(unit: str) -> str:
    """One unbroken token of ``unit`` that fills a body close to the limit."""
    size = len(json.dumps(unit).encode()) - 2
    return unit * ((LIMIT - 200) // max(size, 1))


CASES: list[tuple[str, str, bytes]] = [
    ("benign write", "writer", json.dumps({"value": {"note": "water damage"}}).encode()),
    *[
        (f"writer, 256 kB word of {unit!r}", "writer", json.dumps({"value": _word(unit)}).encode())
        for unit in ("a", "a@", "1 ", "1-", "a.", "+1", "@", "x@y.", "\u200b")
    ],
    (
        "writer, obfuscated PII",
        "writer",
        json.dumps({"value": "jane\uff20ex\u0430mple.com 4111.1111.1111.1111"}).encode(),
    ),
    ("uncapable agent, 256 kB word", "intruder", json.dumps({"value": _word("a@")}).encode()),
    ("oversize body (1 MB)", "writer", json.dumps({"value": "z" * 1_000_000}).encode()),
    ("NaN / 1e999999", "writer", b'{"value": [NaN, 1e999999]}'),
    ("forged token", "forged", json.dumps({"value": 1}).encode()),
]


async def _prepare(kafka: KafkaSettings, prefix: str) -> dict[str, TokenIssuer]:
    agents = {"writer": ("memory:public", "memory:claims"), "intruder": ()}
    issuers = await prepare_gateway(kafka, prefix, agents)
    issuers["forged"] = TokenIssuer(generate_key(), agent_id="writer", version="1.0", instance="x")
    return issuers


async def _timed(
    http: aiohttp.ClientSession, url: str, token: str, body: bytes
) -> tuple[float, int]:
    began = time.perf_counter()
    async with http.put(
        f"{url}/v1/memory/public/{uuid.uuid4().hex[:8]}",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    ) as response:
        await response.read()
        return time.perf_counter() - began, response.status


async def _cases(
    url: str, issuers: dict[str, TokenIssuer], repeat: int
) -> list[tuple[str, int, list[float]]]:
    rows = []
    async with aiohttp.ClientSession() as http:
        for _ in range(10):  # warm-up
            await _timed(http, url, issuers["writer"].issue(), CASES[0][2])
        for label, who, body in CASES:
            times, statuses = [], set()
            for _ in range(repeat):
                elapsed, status = await _timed(http, url, issuers[who].issue(), body)
                times.append(elapsed)
                statuses.add(status)
            rows.append((label, max(statuses), times))
    return rows


async def _livez_under_attack(
    url: str, issuers: dict[str, TokenIssuer], seconds: float
) -> list[float]:
    worst = json.dumps({"value": _word("a@")}).encode()
    stop = asyncio.Event()

    async def attack() -> None:
        async with aiohttp.ClientSession() as http:
            while not stop.is_set():
                await _timed(http, url, issuers["writer"].issue(), worst)

    attackers = [asyncio.create_task(attack()) for _ in range(4)]
    times = []
    async with aiohttp.ClientSession() as http:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            async with http.get(f"{url}/livez") as response:
                await response.read()
            times.append(time.perf_counter() - began)
            await asyncio.sleep(0.02)
    stop.set()
    await asyncio.gather(*attackers)
    return times


def _classifier_alone() -> list[tuple[str, float]]:
    rows = []
    for unit in ("a", "a@", "1 ", "x@y."):
        text = unit * (990_000 // len(unit))
        began = time.perf_counter()
        classify(text)
        rows.append((f"classify 990 kB of {unit!r} (in process)", time.perf_counter() - began))
    return rows


def main() -> None:
    """Run every case and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--attack-seconds", type=float, default=5)
    args = parser.parse_args()
    with bench_broker() as servers, bench_opa() as opa:
        kafka = KafkaSettings(bootstrap_servers=servers)
        prefix = f"a{uuid.uuid4().hex[:6]}."
        issuers = asyncio.run(_prepare(kafka, prefix))
        with running_gateway(servers, prefix, opa.url, log=True) as url:
            rows = asyncio.run(_cases(url, issuers, args.repeat))
            livez = asyncio.run(_livez_under_attack(url, issuers, args.attack_seconds))
    base = statistics.median(rows[0][2])
    print(f"# hostile-input budget — {machine_line()}, OPA on loopback")
    print(f"# closed loop, {args.repeat} requests per case, fresh token each; ms")
    print("| case | status | p50 ms | max ms | p50 / benign p50 |")
    print("|---|---|---|---|---|")
    for label, status, times in rows:
        p50 = statistics.median(times)
        print(
            f"| {label} | {status} | {p50 * 1000:.1f} | {max(times) * 1000:.1f} "
            f"| {p50 / base:.1f} |"
        )
    print(
        f"| /livez while 4 clients send 256 kB 'a@' words | 200 | "
        f"{statistics.median(livez) * 1000:.1f} | {max(livez) * 1000:.1f} | - |"
    )
    for label, seconds in _classifier_alone():
        print(f"| {label} | - | {seconds * 1000:.0f} | - | - |")


if __name__ == "__main__":
    main()
