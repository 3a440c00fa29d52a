"""Semantic memory search through a running gateway and a local embeddings endpoint."""

from __future__ import annotations

import aiohttp
import pytest
from pydantic import JsonValue

from longboat import Envelope
from longboat.agents import Agent, Context
from longboat.agents.testing import AgentTestEnvironment
from longboat.errors import UsageError
from longboat.gateway import GatewayService
from longboat.gateway._client import GatewayRefused, GatewayUnavailable
from tests.helpers import assert_eventually
from tests.integration.gateway.conftest import GatewayWorld, client, serving
from tests.integration.gateway.embeddings_server import EmbeddingsServer, embeddings_server


def _embeddings(server: EmbeddingsServer, **options: object) -> dict[str, object]:
    return {"embeddings": {"base_url": server.url, "model": "hash-64", **options}}


async def _embedded(service: GatewayService, count: int) -> None:
    async def probe() -> int:
        return service.memory.embedded

    await assert_eventually(probe, lambda n: n >= count, timeout_s=60, what="items embedded")


def _searcher() -> Agent:
    agent = Agent("librarian", topics=["questions"], version="1.0")

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        items = await ctx.memory.search("public", str(event.data), scope="alice", mode="semantic")
        return [str(item["key"]) for item in items]

    return agent


async def test_semantic_search_finds_by_meaning_and_never_crosses_a_scope(
    world: GatewayWorld,
) -> None:
    """ "automobile" finds Alice's car note (BM25 cannot); Bob's and unscoped notes never appear."""
    issuer = await world.enroll("librarian", "memory:public")
    await world.publish()
    async with (
        embeddings_server() as server,
        serving(world, **_embeddings(server)) as gateway,
        client(gateway, issuer) as gw,
    ):
        await gw.memory_put("public", "a-car", {"note": "drives a car to work"}, scope="alice")
        await gw.memory_put("public", "a-tea", {"note": "likes green tea"}, scope="alice")
        await gw.memory_put("public", "b-car", {"note": "owns a car"}, scope="bob")
        await gw.memory_put("public", "h-car", {"note": "the car pool"})
        await _embedded(gateway, 4)
        semantic = await gw.memory_search("public", "automobile", scope="alice", mode="semantic")
        words = await gw.memory_search("public", "automobile", scope="alice")
        hybrid = await gw.memory_search("public", "automobile tea", scope="alice", mode="hybrid")
        unscoped = await gw.memory_search("public", "automobile", mode="semantic")
        run = await AgentTestEnvironment(_searcher(), gateway=gw).run(
            Envelope(type="question", source="/t", data="vehicle")
        )
    assert semantic[0]["key"] == "a-car"
    assert {item["scope"] for item in semantic} == {"alice"}
    assert words == []
    assert {item["key"] for item in hybrid} == {"a-car", "a-tea"}
    assert [item["key"] for item in unscoped] == ["h-car"]
    assert isinstance(run.value, list)
    assert run.value[0] == "a-car"


async def test_the_rebuild_on_start_embeds_in_bounded_batches(world: GatewayWorld) -> None:
    """A gateway starting on a bank it has never embedded sends batches of at most batch_size."""
    issuer = await world.enroll("librarian", "memory:public")
    await world.publish()
    async with serving(world) as plain, client(plain, issuer) as gw:
        for i in range(5):
            await gw.memory_put("public", f"n{i}", {"note": f"doctor visit number {i}"})
    async with (
        embeddings_server() as server,
        serving(world, **_embeddings(server, batch_size=2, concurrency=1)) as gateway,
        client(gateway, issuer) as gw,
    ):
        await _embedded(gateway, 5)
        found = await gw.memory_search("public", "physician", mode="semantic", limit=10)
    assert server.batches
    assert max(server.batches) <= 2
    assert sum(server.batches) >= 5
    assert len(found) == 5


async def test_memories_holding_personal_data_are_not_sent_to_the_endpoint(
    world: GatewayWorld,
) -> None:
    """An item classified as holding an email stays BM25-only unless include_pii is set."""
    issuer = await world.enroll("librarian", "memory:claims")
    await world.publish()
    async with (
        embeddings_server() as server,
        serving(world, **_embeddings(server)) as gateway,
        client(gateway, issuer) as gw,
    ):
        await gw.memory_put("claims", "c1", {"note": "mail the car report to bob@example.com"})
        await gw.memory_put("claims", "c2", {"note": "the car report is filed"})
        # Pending texts are sent in the order they were noted: c1 would have gone first.
        await _embedded(gateway, 1)
        semantic = await gw.memory_search("claims", "automobile report", mode="semantic")
        words = await gw.memory_search("claims", "bob")
    assert not any("example.com" in text for text in server.texts)
    assert [item["key"] for item in semantic] == ["c2"]
    assert [item["key"] for item in words] == ["c1"]


async def test_an_unreachable_endpoint_fails_semantic_search_clearly_and_bm25_still_works(
    world: GatewayWorld,
) -> None:
    """Endpoint down: 503 embeddings_unavailable (retryable), BM25 answers; back up: caught up."""
    issuer = await world.enroll("librarian", "memory:public")
    await world.publish()
    async with (
        embeddings_server() as server,
        serving(world, **_embeddings(server)) as gateway,
        client(gateway, issuer) as gw,
    ):
        server.failing = True
        await gw.memory_put("public", "m1", {"note": "the physician called"})
        with pytest.raises(GatewayUnavailable, match="embeddings_unavailable"):
            await gw.memory_search("public", "doctor", mode="semantic")
        words = await gw.memory_search("public", "physician")
        assert gateway.memory.embedded == 0
        server.failing = False
        await _embedded(gateway, 1)
        semantic = await gw.memory_search("public", "doctor", mode="semantic")
    assert [item["key"] for item in words] == ["m1"]
    assert [item["key"] for item in semantic] == ["m1"]


async def test_semantic_search_without_an_endpoint_says_how_to_configure_one(
    world: GatewayWorld,
) -> None:
    """No embeddings endpoint: 422 naming the setting, not retried; BM25 is unaffected."""
    issuer = await world.enroll("librarian", "memory:public")
    await world.publish()
    async with serving(world) as gateway, client(gateway, issuer) as gw:
        with pytest.raises(GatewayRefused, match="LONGBOAT_GATEWAY__EMBEDDINGS__BASE_URL"):
            await gw.memory_search("public", "doctor", mode="hybrid")
        with pytest.raises(UsageError, match="mode"):
            await gw.memory_search("public", "doctor", mode="fuzzy")
        assert await gw.memory_search("public", "doctor") == []
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{gateway.port}/v1/memory/public?q=doctor&mode=fuzzy"
            headers = {"Authorization": f"Bearer {issuer.issue()}"}
            async with session.get(url, headers=headers) as response:
                refused = (response.status, await response.json())
    assert refused[0] == 400
    assert refused[1]["error"] == "invalid_request"
    assert "mode" in refused[1]["message"]
