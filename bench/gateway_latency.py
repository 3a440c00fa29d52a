"""Gateway decision round trip at a steady rate, beside OPA alone.

An open-loop load (requests start on schedule, whatever the latency) of ``--rate`` requests per
second for ``--seconds``: (1) straight to OPA's decision endpoint with the policy input the
gateway would build, (2) a memory read through a gateway process with decision logging, (3) the
same without. Every gateway request carries a fresh agent token (minted beforehand, so minting
is not timed; verifying is). Prints p50/p99 and the ratio to OPA alone.

    python -m bench.gateway_latency [--rate 500] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import aiohttp

from bench._broker import bench_broker, machine_line
from bench._gateway import bench_opa, prepare_gateway, running_gateway
from longboat import KafkaSettings
from longboat.registry import TokenIssuer

POLICY_INPUT = {
    "agent": {
        "id": "bench",
        "version": "1.0",
        "status": "active",
        "risk_tier": "medium",
        "owner": "bench",
        "capabilities": [{"kind": "memory", "name": "claims"}],
    },
    "action": "memory.read",
    "resource": {"kind": "memory", "name": "claims", "key": "k"},
    "context": {"workflow_id": None, "run_id": None, "pii": []},
}


async def _load(send: object, rate: int, seconds: float) -> list[float]:
    """Start ``rate`` requests per second on schedule; return each one's latency in seconds."""
    latencies: list[float] = []
    total = int(rate * seconds)
    interval = 1 / rate
    start = time.perf_counter()

    async def one(i: int) -> None:
        began = time.perf_counter()
        await send(i)  # type: ignore[operator]
        latencies.append(time.perf_counter() - began)

    tasks = []
    for i in range(total):
        delay = start + i * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return latencies


def _summary(latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000


async def _through_gateway(url: str, issuer: TokenIssuer, rate: int, seconds: float) -> list[float]:
    tokens = [issuer.issue(ttl_s=600) for _ in range(int(rate * seconds))]
    async with aiohttp.ClientSession() as http:
        for _ in range(50):  # warm-up (connections, caches)
            async with http.get(
                f"{url}/v1/memory/claims/k", headers={"Authorization": f"Bearer {issuer.issue()}"}
            ) as r:
                await r.read()

        async def send(i: int) -> None:
            async with http.get(
                f"{url}/v1/memory/claims/k", headers={"Authorization": f"Bearer {tokens[i]}"}
            ) as r:
                await r.read()
                assert r.status in (200, 404), r.status

        return await _load(send, rate, seconds)


async def _opa_alone(opa_url: str, rate: int, seconds: float) -> list[float]:
    async with aiohttp.ClientSession() as http:

        async def send(_: int) -> None:
            async with http.post(
                f"{opa_url}/v1/data/longboat/gateway/decision", json={"input": POLICY_INPUT}
            ) as r:
                body = await r.json()
                assert body["result"]["allow"] is True

        for i in range(50):
            await send(i)
        return await _load(send, rate, seconds)


def main() -> None:
    """Run the three measurements and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    with bench_broker() as servers, bench_opa() as opa:
        kafka = KafkaSettings(bootstrap_servers=servers)
        results = {}
        for label, log in (
            ("gateway, decision logging on", True),
            ("gateway, decision logging off", False),
        ):
            prefix = f"g{uuid.uuid4().hex[:6]}."
            issuers = asyncio.run(prepare_gateway(kafka, prefix, {"bench": ("memory:claims",)}))
            with running_gateway(servers, prefix, opa.url, log=log) as url:
                results[label] = asyncio.run(
                    _through_gateway(url, issuers["bench"], args.rate, args.seconds)
                )
        alone = asyncio.run(_opa_alone(opa.url, args.rate, args.seconds))
    base50, base99 = _summary(alone)
    print(f"# gateway decision latency — {machine_line()}, OPA on loopback")
    print(f"# open loop, {args.rate} requests/s for {args.seconds:.0f} s each; latency in ms")
    print("| path | p50 | p99 | p99 ratio to OPA alone |")
    print("|---|---|---|---|")
    print(f"| OPA alone (decision endpoint) | {base50:.2f} | {base99:.2f} | 1.00 |")
    for label, latencies in results.items():
        p50, p99 = _summary(latencies)
        row = f"| {label} (token check + decision + read) | {p50:.2f} | {p99:.2f}"
        print(f"{row} | {p99 / base99:.1f} |")


if __name__ == "__main__":
    main()
