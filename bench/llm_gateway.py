"""Gateway overhead on an LLM call: through ``POST /v1/models/complete`` vs the direct call.

A loopback OpenAI-compatible server answers each chat completion after ``--delay-ms`` (0: the
worst case for the ratio; a few hundred ms: a fast real model). The direct side is the agents'
own ``OpenAIProvider``; the gateway side is ``GatewayClient.model_complete`` against a
``longboat run gateway`` process holding the provider settings: token check, the models policy
in OPA (access and budgets), the decision log, the provider call, and the usage record written
to ``lb.models.usage`` and acknowledged before the answer. Calls are sequential; each gateway
call has a fresh idempotency key (nothing is answered from the record).

    python -m bench.llm_gateway [--calls 300] [--delays 0,200]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from aiohttp import web

from bench._broker import bench_broker, machine_line
from bench._gateway import bench_opa, prepare_gateway, running_gateway
from longboat import KafkaSettings
from longboat.devinfra import free_port
from longboat.gateway import GatewayClient
from longboat.llm import LLMMessage, LLMRequest, LLMSettings, OpenAIProvider

_REQUEST = LLMRequest(
    model="gpt-4o-mini", messages=(LLMMessage(role="user", content="Label this claim: dent"),)
)


@asynccontextmanager
async def _model_server(delay_s: float) -> AsyncIterator[str]:
    async def completions(request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(delay_s)
        return web.json_response(
            {
                "model": body["model"],
                "choices": [{"finish_reason": "stop", "message": {"content": "simple"}}],
                "usage": {"prompt_tokens": 9, "completion_tokens": 1},
            }
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        await runner.cleanup()


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _direct(url: str, calls: int) -> list[float]:
    provider = OpenAIProvider(LLMSettings(provider="openai", base_url=url))
    took = []
    try:
        for _ in range(calls):
            began = time.perf_counter()
            await provider.complete(_REQUEST)
            took.append(time.perf_counter() - began)
    finally:
        await provider.close()
    return took


async def _through(gateway: str, token: Callable[[], str], calls: int) -> list[float]:
    took = []
    async with GatewayClient(gateway, token=token) as gw:
        body = _REQUEST.model_dump(mode="json")
        for _ in range(calls):
            began = time.perf_counter()
            await gw.model_complete(body, idempotency_key=uuid.uuid4().hex)
            took.append(time.perf_counter() - began)
    return took


async def _one(servers: str, opa_url: str, delay_ms: int, calls: int) -> None:
    prefix = f"bllm{uuid.uuid4().hex[:6]}."
    kafka = KafkaSettings(bootstrap_servers=servers)
    issuers = await prepare_gateway(kafka, prefix, {"bench": ["model:gpt-4o-mini"]})
    async with _model_server(delay_ms / 1000) as url:
        env = {"LONGBOAT_GATEWAY__LLM__PROVIDER": "openai", "LONGBOAT_GATEWAY__LLM__BASE_URL": url}
        direct = await _direct(url, calls)
        with running_gateway(servers, prefix, opa_url, log=True, env=env) as gateway:
            await _through(gateway, issuers["bench"].issue, 10)  # warm up connections
            via = await _through(gateway, issuers["bench"].issue, calls)
    print(
        f"| {delay_ms} ms | {_pct(direct, 0.5):.1f} / {_pct(direct, 0.99):.1f} ms "
        f"| {_pct(via, 0.5):.1f} / {_pct(via, 0.99):.1f} ms "
        f"| {_pct(via, 0.5) / _pct(direct, 0.5):.2f} |"
    )


def main() -> None:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--delays", default="0,200")
    args = parser.parse_args()
    print(machine_line())
    print("| model latency | direct p50 / p99 | through the gateway p50 / p99 | p50 ratio |")
    print("|---|---|---|---|")
    with bench_broker() as servers, bench_opa() as opa:
        for delay in (int(d) for d in args.delays.split(",")):
            asyncio.run(_one(servers, opa.url, delay, args.calls))


if __name__ == "__main__":
    main()
