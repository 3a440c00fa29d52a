"""Memory search through the gateway: BM25 ranking, scopes, the index rebuilt on start."""

from __future__ import annotations

from tests.integration.gateway.conftest import GatewayWorld, client, serving


async def test_scoped_ranked_search_survives_a_restart(world: GatewayWorld) -> None:
    """Scoped search never returns another scope's memory, before and after an index rebuild."""
    issuer = await world.enroll("claims", "memory:public")
    await world.publish()
    async with serving(world) as gateway, client(gateway, issuer) as gw:
        await gw.memory_put("public", "a1", "alice prefers email updates", scope="alice")
        await gw.memory_put("public", "a2", "alice lives near the river", scope="alice")
        await gw.memory_put("public", "b1", "bob prefers email and phone updates", scope="bob")
        await gw.memory_put("public", "n1", "email updates are sent on mondays")
        found = await gw.memory_search("public", "email updates", scope="alice")
        assert [item["key"] for item in found] == ["a1"]
        assert found[0]["scope"] == "alice"
    async with serving(world) as gateway, client(gateway, issuer) as gw:
        # A new gateway rebuilt its index from lb.memory.
        bob = await gw.memory_search("public", "email phone updates", scope="bob", limit=50)
        assert [item["key"] for item in bob] == ["b1"]
        unscoped = await gw.memory_search("public", "email")
        assert [item["key"] for item in unscoped] == ["n1"]
        alice = await gw.memory_search("public", "river email", scope="alice")
        assert {item["key"] for item in alice} == {"a1", "a2"}
