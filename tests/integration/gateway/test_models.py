"""Model calls through the gateway: which models, accounting, budgets, replays (real OPA)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import JsonValue

from longboat.cli import cli
from longboat.gateway import (
    MODEL_USAGE,
    BudgetExceeded,
    GatewayService,
    PolicyDenied,
)
from longboat.kafka import read_decoded
from longboat.llm import LLMMessage, LLMRequest
from tests.helpers import assert_eventually
from tests.integration.gateway.conftest import POLICIES, GatewayWorld, client


class _Clock:
    """The gateway's clock, turned by the test (budget windows without sleeping)."""

    def __init__(self) -> None:
        self.now = datetime(2031, 1, 1, 0, 0, 5, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@contextlib.asynccontextmanager
async def _gateway(world: GatewayWorld, clock: _Clock) -> AsyncIterator[GatewayService]:
    settings = world.gateway_settings(opa_timeout_ms=5000)
    async with GatewayService(settings, clock=clock) as service:
        task = asyncio.create_task(service.run())
        try:
            await assert_eventually(
                lambda: _loaded(service), bool, timeout_s=30, what="policy loaded"
            )
            yield service
        finally:
            service.shutdown()
            await task


async def _loaded(service: GatewayService) -> bool:
    return service.policies.active is not None


def _policies(tmp_path: Path, budgets: dict[str, object]) -> Path:
    """The shipped policies with the test's budgets."""
    folder = tmp_path / "policies"
    shutil.copytree(POLICIES, folder)
    data_file = folder / "longboat" / "models" / "data.json"
    data = json.loads(data_file.read_text())
    data["budgets"] = budgets
    data_file.write_text(json.dumps(data))
    return folder


def _request(text: str = "classify this claim", model: str = "longboat-local") -> JsonValue:
    chat = LLMRequest(model=model, messages=(LLMMessage(role="user", content=text),))
    body: JsonValue = chat.model_dump(mode="json")
    return body


async def test_budget_refuses_once_spent_and_recovers_when_the_window_turns(
    world: GatewayWorld, tmp_path: Path
) -> None:
    """A spent budget answers 429 naming it (terminal for the step); the next window allows."""
    issuer = await world.enroll("claims")
    # The local provider counts words: each call below costs 3 + 5 = 8 tokens.
    await world.publish(_policies(tmp_path, {"minute": {"window": 60, "max_tokens": 15}}))
    clock = _Clock()
    async with _gateway(world, clock) as gateway, client(gateway, issuer) as gw:
        first = await gw.model_complete(_request(), idempotency_key="k1", workflow_id="wf-1")
        second = await gw.model_complete(_request(), idempotency_key="k2", workflow_id="wf-1")
        assert first["counted"]
        assert second["counted"]
        assert second["approaching"] == []  # decided before the call: 8 of 15 spent then
        # The second call crossed the limit (16 of 15): the next one is refused.
        with pytest.raises(BudgetExceeded) as refused:
            await gw.model_complete(_request(), idempotency_key="k3", workflow_id="wf-1")
        assert refused.value.budgets == ["minute"]
        assert refused.value.retryable is False
        assert "budget minute exceeded" in str(refused.value)
        clock.now += timedelta(seconds=60)  # the window turns
        third = await gw.model_complete(_request(), idempotency_key="k3", workflow_id="wf-1")
        assert third["counted"]


async def test_budgets_command_shows_spend_against_limits(
    world: GatewayWorld, tmp_path: Path
) -> None:
    """`longboat budgets` reads lb.models.usage and the policy data: spend, limit, verdict."""
    issuer = await world.enroll("claims")
    # A ten-year window: the gateway's and the command's wall clocks agree on it.
    folder = _policies(tmp_path, {"decade": {"window": 315_360_000, "max_tokens": 8}})
    await world.publish(folder)
    clock = _Clock()
    clock.now = datetime.now(UTC)  # the command judges the current windows by the wall clock
    async with _gateway(world, clock) as gateway, client(gateway, issuer) as gw:
        await gw.model_complete(_request(), idempotency_key="k1")
    env = {
        "LONGBOAT_KAFKA__BOOTSTRAP_SERVERS": world.settings.kafka.bootstrap_servers,
        "LONGBOAT_TOPIC_PREFIX": world.settings.topic_prefix,
    }
    args = ["budgets", "--policies", str(folder), "--json"]
    result = await asyncio.to_thread(CliRunner().invoke, cli, args, env=env)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert rows == [
        {
            "agent": "claims",
            "budget": "decade",
            "window": rows[0]["window"],
            "tokens": 8,
            "cost": 0.0,
            "max_tokens": 8,
            "max_cost": None,
            "used_tokens": 1.0,
            "exceeded": True,
            "approaching": False,
        }
    ]


async def test_a_repeated_step_key_is_answered_from_the_record_and_counted_once(
    world: GatewayWorld, tmp_path: Path
) -> None:
    """The same idempotency key gets the recorded answer; lb.models.usage holds one record."""
    issuer = await world.enroll("claims")
    await world.publish()
    async with _gateway(world, _Clock()) as gateway, client(gateway, issuer) as gw:
        first = await gw.model_complete(_request(), idempotency_key="step-fp", run_id="r1")
        again = await gw.model_complete(_request(), idempotency_key="step-fp", run_id="r1")
    assert first["counted"] is True
    assert again["counted"] is False
    assert again["response"] == first["response"]
    records = [
        r.value
        async for r in read_decoded(world.settings.kafka, world.names.models_usage, MODEL_USAGE)
        if r.value is not None
    ]
    assert len(records) == 1
    usage = records[0]
    who = (usage.agent, usage.version, usage.owner, usage.run_id)
    assert who == ("claims", "1.0", "unknown", "r1")
    assert usage.input_tokens == 3
    assert usage.output_tokens == len(first["response"]["text"].split())


async def test_usage_survives_a_gateway_restart(world: GatewayWorld, tmp_path: Path) -> None:
    """A new gateway rebuilds spend from the topic: a spent budget stays spent."""
    issuer = await world.enroll("claims")
    await world.publish(_policies(tmp_path, {"day": {"window": "day", "max_tokens": 8}}))
    clock = _Clock()
    async with _gateway(world, clock) as gateway, client(gateway, issuer) as gw:
        await gw.model_complete(_request(), idempotency_key="k1")
    async with _gateway(world, clock) as gateway, client(gateway, issuer) as gw:
        with pytest.raises(BudgetExceeded, match="budget day exceeded"):
            await gw.model_complete(_request(), idempotency_key="k2")


async def test_models_need_a_capability_unless_open(world: GatewayWorld) -> None:
    """A model not open to everyone needs capability model:NAME (403 otherwise)."""
    plain = await world.enroll("plain")
    await world.publish()
    async with _gateway(world, _Clock()) as gateway, client(gateway, plain) as gw:
        with pytest.raises(PolicyDenied, match="no capability"):
            await gw.model_complete(_request(model="gpt-4o-mini"), idempotency_key="k1")
        opened = await gw.model_complete(_request(), idempotency_key="k2")
        assert opened["cost"] == 0.0
