"""Mission Control's operations data on the real stack: throughput, errors and dead letters
from real heartbeats, the policy digest a real gateway runs, registry changes, budget spend,
and the link from a failed workflow to its run's trace and dead letter.

The scenarios are context managers so that the browser tests drive the same worlds.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import JsonValue

from longboat import Envelope, Settings, TopicNames, TopicSpec
from longboat.agents import Agent, Context
from longboat.devinfra._opa import OpaNode
from longboat.gateway import GatewayClient
from longboat.kafka import Admin
from longboat.registry import (
    RegistryClient,
    RegistryStore,
    generate_key,
    public_key_b64,
    write_private_key,
)
from tests.helpers import assert_eventually
from tests.integration.agents.conftest import AgentWorld, running
from tests.integration.coordinator.test_coordinator import (
    OPERATOR,
    _claims,
    _setup,
    _status,
    _task_input,
    coordinator,
)
from tests.integration.gateway.conftest import POLICIES, GatewayWorld, client, serving
from tests.integration.registry.test_registry_service import OPERATOR as REGISTRY_OPERATOR
from tests.integration.registry.test_registry_service import registry_service

Get = Callable[[str], Awaitable[Any]]


class CardDeclined(ValueError):
    """A terminal failure of the payment step (not retryable)."""


def _declining_specialists() -> list[Agent]:
    """Triage labels every claim simple; payments declines amount 13 inside a journalled step."""
    triage = Agent("triage")

    @triage.handler
    async def classify(ctx: Context, event: Envelope) -> JsonValue:
        return {"label": "simple"}

    payments = Agent("payments")

    async def charge(amount: int) -> JsonValue:
        if amount == 13:
            raise CardDeclined("card declined for amount 13")
        return {"paid": amount}

    @payments.handler
    async def pay(ctx: Context, event: Envelope) -> JsonValue:
        return await ctx.step("charge", charge, int(_task_input(ctx)["amount"]))

    return [triage, payments]


@contextlib.asynccontextmanager
async def api(base: str) -> AsyncIterator[Get]:
    """GET a console route as the operator; any answer but 200 fails the test."""
    async with aiohttp.ClientSession() as http:

        async def get(path: str) -> Any:
            async with http.get(base + path, headers=OPERATOR) as response:
                body = await response.json(content_type=None)
                assert response.status == 200, (path, body)
                return body

        yield get


# -- throughput, errors, dead letters -----------------------------------------------------------
@dataclass
class MeteredFleet:
    """A coordinator, a registry, and agent ``meter`` heartbeating with its totals."""

    base: str
    world: AgentWorld

    async def send(self, *amounts: int) -> None:
        """Records for ``meter`` (a negative amount fails in a step and is dead-lettered)."""
        await self.world.publish([(f"k{n}", {"amount": a}) for n, a in enumerate(amounts)])


def _meter(topic: str) -> Agent:
    meter = Agent("meter", topics=[topic], version="2.0")

    async def count(amount: int) -> JsonValue:
        if amount < 0:
            raise CardDeclined(f"negative amount {amount}")
        return amount

    @meter.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        assert isinstance(event.data, dict)
        return await ctx.step("count", count, int(str(event.data["amount"])))

    return meter


@contextlib.asynccontextmanager
async def metered_fleet(
    settings: Settings, tmp_path: Path, unique: str
) -> AsyncIterator[MeteredFleet]:
    """Run the metered world until the block ends."""
    _, folder = await _setup(settings, tmp_path, unique)
    names = TopicNames(settings.topic_prefix)
    world = AgentWorld(settings, names, settings.kafka, f"meter.in.{unique}", "unused")
    meter = _meter(world.input_topic)
    async with Admin(settings.kafka) as admin:
        await admin.ensure_topics(
            [*world.names.agent_topics("meter", partitions=1), TopicSpec(world.input_topic, 1)]
        )
    key = generate_key()
    key_file = write_private_key(key, tmp_path / "meter.key")
    async with (
        registry_service(settings) as registry,
        RegistryClient(f"http://127.0.0.1:{registry.port}", operator_token=REGISTRY_OPERATOR) as rc,
        coordinator(settings, folder) as service,
    ):
        await rc.enroll("meter", version="2.0", public_key=public_key_b64(key), capabilities=[])
        agent_settings = world.agent_settings(key_file=key_file, heartbeat_s=1.0).model_copy(
            update={"registry_url": f"http://127.0.0.1:{registry.port}"}
        )
        async with running(meter, agent_settings):
            yield MeteredFleet(f"http://127.0.0.1:{service.port}", world)


def version_row(fleet: Any, agent: str, version: str) -> dict[str, Any] | None:
    """One version's row of a ``/v1/fleet`` answer."""
    for row in fleet["agents"]:
        if row["agent_id"] == agent:
            for v in row["versions"]:
                if v["version"] == version:
                    return {**v, "dlq_pending": row["dead_letters"]}
    return None


async def test_the_fleet_counts_records_per_second_errors_and_dead_letters_per_version(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    """A real agent's heartbeats carry its totals: the fleet shows records/s above zero while
    it works, then its failed step attempts, dead-lettered records and pending DLQ count."""
    async with metered_fleet(settings, tmp_path, unique) as fleet, api(fleet.base) as get:
        await fleet.send(*range(1, 21), -1)

        async def meter() -> dict[str, Any] | None:
            return version_row(await get("/v1/fleet"), "meter", "2.0")

        await assert_eventually(
            meter,
            lambda r: r is not None and (r["records_per_s"] or 0) > 0,
            timeout_s=60,
            what="records/s above zero",
        )
        row = await assert_eventually(
            meter,
            lambda r: r is not None and r["dead_lettered"] == 1 and r["dlq_pending"] == 1,
            timeout_s=60,
            what="one dead letter",
        )
        assert row is not None
        assert row["errors"] >= 1  # the failing step attempt
        (instance,) = row["instances"]
        assert instance["counters"]["processed"] == 21


# -- gateways, registry changes, budgets ----------------------------------------------------------
def budget_policies(tmp_path: Path, name: str, max_tokens: int) -> Path:
    """The shipped policies with one ten-year token budget (the console judges windows by the
    wall clock: a long window cannot turn during the test)."""
    folder = tmp_path / name
    shutil.copytree(POLICIES, folder)
    data_file = folder / "longboat" / "models" / "data.json"
    data = json.loads(data_file.read_text())
    data["budgets"] = {"decade": {"window": 315_360_000, "max_tokens": max_tokens}}
    data_file.write_text(json.dumps(data))
    return folder


@pytest.fixture
async def gateway_world(
    settings: Settings, fresh_opa: tuple[OpaNode, Path], tmp_path: Path
) -> GatewayWorld:
    """A real OPA of this test and the system topics (a gateway with no tools)."""
    names = TopicNames(settings.topic_prefix)
    async with Admin(settings.kafka) as admin:
        await admin.ensure_topics(names.system_topics(partitions=1))
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps({"tools": {}}))
    node, binary = fresh_opa
    return GatewayWorld(settings, names, node, binary, tmp_path / "opa", tools)


_CHAT: JsonValue = {
    "model": "longboat-local",
    "messages": [{"role": "user", "content": "classify this claim"}],
}


@dataclass
class GovernedFleet:
    """A coordinator beside a real gateway (and OPA); agent ``claims`` spent 8 of 20 tokens."""

    base: str
    gateway_world: GatewayWorld
    tmp_path: Path
    gateway: GatewayClient

    async def spend(self, key: str) -> None:
        """One model call through the gateway: 8 more tokens (the local provider counts
        words: 3 in, 5 out)."""
        await self.gateway.model_complete(_CHAT, idempotency_key=key)

    async def republish(self) -> str:
        """Publish a changed bundle (the budget raised to 24 tokens); returns its digest."""
        bundle = await self.gateway_world.publish(budget_policies(self.tmp_path, "v2", 24))
        return bundle.digest

    async def revoke(self, agent: str) -> None:
        """Revoke an agent in the registry (an operator's change)."""
        store = RegistryStore(
            self.gateway_world.settings.kafka,
            self.gateway_world.names.registry,
            rotation_grace=timedelta(0),
        )
        async with store:
            await store.set_status(agent, "revoked")


@contextlib.asynccontextmanager
async def governed_fleet(
    gw_world: GatewayWorld, tmp_path: Path, unique: str
) -> AsyncIterator[tuple[GovernedFleet, str]]:
    """Yield the world and the first published digest; the gateway runs until the block ends."""
    _, folder = await _setup(gw_world.settings, tmp_path, unique)
    issuer = await gw_world.enroll("claims")
    first = await gw_world.publish(budget_policies(tmp_path, "v1", 20))
    async with serving(gw_world) as gateway, client(gateway, issuer) as gw:
        await gw.model_complete(_CHAT, idempotency_key="k1")  # 8 of 20: 40 %
        async with coordinator(gw_world.settings, folder) as service:
            base = f"http://127.0.0.1:{service.port}"
            yield GovernedFleet(base, gw_world, tmp_path, gw), first.digest


async def test_gateway_digests_registry_changes_and_budgets(
    gateway_world: GatewayWorld, tmp_path: Path, unique: str
) -> None:
    """The digest the gateway runs is shown and follows a new publish; an enrolment and a
    revocation are registry changes; 16 of 20 budget tokens is flagged approaching at 80 %."""
    scenario = governed_fleet(gateway_world, tmp_path, unique)
    async with scenario as (fleet, first), api(fleet.base) as get:
        gateways = await assert_eventually(
            lambda: get("/v1/gateways"),
            lambda g: [r["digest"] for r in g["gateways"]] == [first],
            timeout_s=30,
            what="the gateway's digest",
        )
        assert gateways["gateways"][0]["current"] is True
        budgets = await get("/v1/budgets")
        assert budgets["warn_at"] == 0.8
        (row,) = budgets["budgets"]
        assert (row["agent"], row["tokens"], row["approaching"]) == ("claims", 8, False)
        await fleet.spend("k2")  # 16 of 20: 80 %
        budgets = await assert_eventually(
            lambda: get("/v1/budgets"),
            lambda b: [r["tokens"] for r in b["budgets"]] == [16],
            timeout_s=30,
            what="the second call's spend",
        )
        assert [(b["approaching"], b["used_tokens"]) for b in budgets["budgets"]] == [(True, 0.8)]
        second = await fleet.republish()
        await assert_eventually(
            lambda: get("/v1/gateways"),
            lambda g: [r["digest"] for r in g["gateways"]] == [second],
            timeout_s=60,
            what="the gateway's new digest",
        )
        await fleet.revoke("claims")
        changes = await assert_eventually(
            lambda: get("/v1/registry/changes"),
            lambda c: any(x["kind"] == "status_changed" for x in c["changes"]),
            timeout_s=30,
            what="the revocation",
        )
        kinds = [(c["kind"], c["agent_id"], c["detail"]) for c in changes["changes"]]
        assert kinds[0] == ("status_changed", "claims", "active → revoked")
        assert ("enrolled", "claims", "active, owner unknown") in kinds
        budgets = await get("/v1/budgets")  # 16 of 24 after the republish: no longer flagged
        assert [b["approaching"] for b in budgets["budgets"]] == [False]


# -- inbox errors -------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def failing_workflow(settings: Settings, tmp_path: Path, unique: str) -> AsyncIterator[str]:
    """A coordinator where claim ``c-declined`` failed at its payment step; yields its URL."""
    world, folder = await _setup(settings, tmp_path, unique)
    triage, payments = _declining_specialists()
    async with (
        coordinator(settings, folder) as service,
        running(triage, world.agent_settings(instance="s1")),
        running(payments, world.agent_settings(instance="s2")),
    ):
        await _claims(world, ("c-declined", 13))
        await assert_eventually(
            lambda: _status(service, "c-declined"),
            lambda s: s == "failed",
            timeout_s=60,
            what="c-declined failed",
        )
        yield f"http://127.0.0.1:{service.port}"


async def test_an_inbox_error_links_to_the_failed_runs_trace_and_dead_letter(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    """A failed workflow's failed step names the agent run behind it; that run's trace shows
    the failed step and its dead letter names the same run."""
    async with failing_workflow(settings, tmp_path, unique) as base, api(base) as get:
        failures = await assert_eventually(
            lambda: get("/v1/failures"),
            lambda f: bool(f["failures"]) and f["failures"][0]["run_id"] is not None,
            timeout_s=30,
            what="the failure's run",
        )
        (failure,) = failures["failures"]
        assert (failure["workflow_id"], failure["step"], failure["agent"]) == (
            "c-declined",
            "pay",
            "payments",
        )
        assert failure["dead_letter_id"] is not None
        trace = await get(f"/v1/runs/payments/{failure['run_id']}")
        assert trace["header"]["outcome"] == "dead_lettered"
        assert trace["header"]["workflow_id"] == "c-declined"
        assert [(s["name"], s["status"]) for s in trace["steps"]] == [("charge", "failed")]
        letters = await get("/v1/dead-letters?agent=payments")
        assert [d["details"]["run_id"] for d in letters["dead_letters"]] == [failure["run_id"]]
        assert (await get("/v1/failures?workflow=c-declined"))["failures"] == [failure]
        async with aiohttp.ClientSession() as http:
            for path, status in (
                ("/v1/runs/payments/no-such-run", 404),
                ("/v1/runs/..%2Fetc/x", 400),
                ("/v1/failures?workflow=no-such-workflow", 404),
            ):
                async with http.get(base + path, headers=OPERATOR) as response:
                    body = await response.json(content_type=None)
                    assert (response.status, sorted(body)) == (status, ["error", "message"]), path
