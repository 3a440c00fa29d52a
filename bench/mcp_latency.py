"""Round trip of an MCP tool call through the gateway beside the same call made directly.

One upstream MCP server (``bench._mcp_server``, Streamable HTTP, official SDK) and one
``longboat run gateway`` process that fronts it, all on loopback. An open-loop load (calls start
on schedule, whatever the latency) of ``--rate`` calls per second for ``--seconds``: (1) the MCP
``tools/call`` made directly with the official client over one session; (2) the same call through
``POST /v1/tools/bench.lookup/invoke`` (token check, catalogue approval, PII scan, OPA decision,
decision log, ledger start and result, upstream call). Every gateway call has a fresh idempotency
key, so each one reaches the upstream. Prints p50/p99, the p99 ratio and the p99 difference, and
the gateway process's CPU time per call (from ``/proc``; steadier than latency on a busy machine).
(3) the direct call through ``bench._bare_proxy``, an aiohttp hop that only forwards: the floor a
Python gateway cannot go below on this machine. ``--sdk-calls`` sets ``lean_calls: false`` on the
upstream (every call through the SDK client), for a same-minute comparison with the lean path
(docs/tools.md).

    python -m bench.mcp_latency [--rate 200] [--seconds 10] [--sdk-calls]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench._broker import REPO, bench_broker, machine_line
from bench._gateway import bench_opa, prepare_gateway, running_gateway
from bench.gateway_latency import _load, _summary
from longboat import KafkaSettings, TopicNames
from longboat.devinfra import free_port
from longboat.gateway import approve_tool, read_catalogue
from longboat.registry import TokenIssuer

TOOL = "bench.lookup"


def _start_server(
    port: int, *extra: str, module: str = "bench._mcp_server"
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", module, str(port), *extra],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the MCP server did not start")


async def _direct(url: str, rate: int, seconds: float) -> list[float]:
    async with Client(streamable_http_client(url)) as client:

        async def send(i: int) -> None:
            answer = await client.call_tool("lookup", {"city": f"c{i}"})
            assert not answer.is_error

        for i in range(50):  # warm-up (session, connections)
            await send(i)
        return await _load(send, rate, seconds)


async def _approve(kafka: KafkaSettings, prefix: str) -> None:
    names = TopicNames(prefix)
    for entry in await read_catalogue(kafka, names):
        definition = entry.definition
        await approve_tool(kafka, names, definition.name, definition.digest, operator="bench")


def _cpu_s(gateway_url: str) -> float:
    """CPU seconds (user + system) the ``longboat run gateway`` process at that port has used."""
    port = gateway_url.rsplit(":", 1)[1]
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if b"gateway" in argv and port.encode() in argv:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            continue
    raise RuntimeError(f"no gateway process for {gateway_url} in /proc")


async def _through_gateway(
    url: str, issuer: TokenIssuer, rate: int, seconds: float
) -> tuple[list[float], float]:
    # Tokens are single-use: the measured calls get ones minted beforehand (minting is not timed).
    tokens = [issuer.issue(ttl_s=600) for _ in range(int(rate * seconds))]
    run = uuid.uuid4().hex[:8]
    async with aiohttp.ClientSession() as http:

        async def call(i: int) -> int:
            body = {"arguments": {"city": f"c{i}"}, "idempotency_key": f"{run}-{i}"}
            token = tokens[i] if i < len(tokens) else issuer.issue()
            headers = {"Authorization": f"Bearer {token}"}
            async with http.post(f"{url}/v1/tools/{TOOL}/invoke", json=body, headers=headers) as r:
                await r.read()
                return r.status

        await _until_approved(call)
        for i in range(50):  # warm-up
            await call(100_000 + i)

        async def send(i: int) -> None:
            status = await call(i)
            assert status == 200, status

        before = _cpu_s(url)
        latencies = await _load(send, rate, seconds)
        return latencies, (_cpu_s(url) - before) / len(latencies)


async def _until_approved(call: Callable[[int], Awaitable[int]]) -> None:
    """The gateway follows the catalogue topic: wait until it serves the approval."""
    for i in range(300):
        if await call(200_000 + i) == 200:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{TOOL} never became callable through the gateway")


def main() -> None:
    """Run both measurements in the same run and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument(
        "--sdk-calls", action="store_true", help="lean_calls: false (every call via the SDK)"
    )
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    server = _start_server(port)
    try:
        with bench_broker() as servers, bench_opa() as opa, tempfile.TemporaryDirectory() as d:
            kafka = KafkaSettings(bootstrap_servers=servers)
            tools = Path(d) / "tools.json"
            spec = {
                "kind": "mcp",
                "transport": "http",
                "url": url,
                "lean_calls": not args.sdk_calls,
            }
            tools.write_text(json.dumps({"tools": {"bench": spec}}))
            prefix = f"m{uuid.uuid4().hex[:6]}."
            issuers = asyncio.run(prepare_gateway(kafka, prefix, {"bench": ("tool:bench",)}))
            env = {"LONGBOAT_GATEWAY__TOOLS_FILE": str(tools)}
            with running_gateway(servers, prefix, opa.url, log=True, env=env) as gateway:
                asyncio.run(_approve(kafka, prefix))
                through, cpu = asyncio.run(
                    _through_gateway(gateway, issuers["bench"], args.rate, args.seconds)
                )
            direct = asyncio.run(_direct(url, args.rate, args.seconds))
        proxy_port = free_port()
        proxy = _start_server(proxy_port, url, module="bench._bare_proxy")
        try:
            hop = asyncio.run(
                _direct(f"http://127.0.0.1:{proxy_port}/mcp", args.rate, args.seconds)
            )
        finally:
            proxy.kill()
            proxy.wait()
    finally:
        server.kill()
        server.wait()
    d50, d99 = _summary(direct)
    g50, g99 = _summary(through)
    h50, h99 = _summary(hop)
    print(f"# MCP tool call latency — {machine_line()}, everything on loopback")
    print(f"# open loop, {args.rate} calls/s for {args.seconds:.0f} s each; latency in ms")
    print("| path | p50 | p99 | p99 ratio to direct |")
    print("|---|---|---|---|")
    print(f"| direct MCP tools/call (official client) | {d50:.2f} | {d99:.2f} | 1.00 |")
    print(
        f"| through a bare Python HTTP hop (no checks) | {h50:.2f} | {h99:.2f} | {h99 / d99:.1f} |"
    )
    print(f"| through the gateway (/invoke) | {g50:.2f} | {g99:.2f} | {g99 / d99:.1f} |")
    print(f"# a bare hop adds {h99 - d99:.2f} ms at p99 (the floor for any Python gateway)")
    print(f"# the gateway adds {g99 - d99:.2f} ms at p99 (goal: at most 2 ms)")
    path = "SDK client (lean_calls: false)" if args.sdk_calls else "lean tools/call"
    print(f"# upstream path: {path}; gateway CPU per call {cpu * 1000:.2f} ms")


if __name__ == "__main__":
    main()
