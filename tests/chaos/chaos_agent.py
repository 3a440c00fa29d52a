"""The agent the crash tests run as a real subprocess (``longboat run agent``).

Its side effect ("charge") appends a line to a file and fsyncs it, so the test can count how
often it really happened. Test-only module: it reads its file names from the environment.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import JsonValue

from longboat import Envelope
from longboat.agents import NOT_FOUND, Agent, Context, NotFound

_ENV = os.environ  # test harness configuration, not settings

agent = Agent(
    "chaos",
    topics=[_ENV.get("CHAOS_INPUT", "chaos.in")],
    durability=_ENV.get("CHAOS_DURABILITY", "sync"),
    max_in_flight=4,
)


def _ledger() -> Path:
    return Path(_ENV["CHAOS_SIDE_EFFECTS"])


async def _lookup(key: str) -> JsonValue | NotFound:
    """The provider's record of a charge with this idempotency key, if it happened."""
    if _ENV.get("CHAOS_RECONCILE") != "1" or not _ledger().exists():
        return NOT_FOUND
    for line in _ledger().read_text().splitlines():
        fp, item, token = line.split(" ")
        if fp == key:
            return {"id": int(item), "token": token}
    return NOT_FOUND


@agent.handler
async def handle(ctx: Context, event: Envelope) -> JsonValue:
    """uuid (recorded) -> charge (side effect) -> llm -> emit."""
    item = int(dict(event.data)["id"])  # type: ignore[arg-type]
    token = await ctx.uuid()

    def charge(item_id: int, token_value: str) -> JsonValue:
        with _ledger().open("a") as out:
            out.write(f"{ctx.idempotency_key} {item_id} {token_value}\n")
            out.flush()
            os.fsync(out.fileno())
        return {"id": item_id, "token": token_value}

    charged = await ctx.step("charge", charge, item, token, reconcile=_lookup)
    answer = await ctx.llm(f"summarise item {item}")
    ctx.emit(
        _ENV.get("CHAOS_OUTPUT", "chaos.out"),
        event.caused(
            type="chaos.out",
            source="/chaos",
            data={"id": item, "token": token, "charged": charged, "llm": answer.text},
        ),
    )
    return None
