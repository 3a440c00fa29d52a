"""The gateway's HTTP contract: every error answer is one ErrorBody, and the client reads it."""

from __future__ import annotations

import aiohttp
import pytest

from longboat.gateway import ErrorBody, PolicyDenied
from longboat.gateway._client import GatewayRefused
from tests.integration.gateway.conftest import GatewayWorld, client, serving

PATIENT = {"opa_timeout_ms": 5000}  # a shared machine: do not fail closed on a slow OPA


async def test_error_answers_are_error_bodies(world: GatewayWorld) -> None:
    """400, 401, 403 and 404 answers all parse as ErrorBody; the client raises typed errors."""
    issuer = await world.enroll("triage", "memory:claims", "tool:nowhere")
    await world.publish()
    async with serving(world, **PATIENT) as gateway, aiohttp.ClientSession() as http:
        base = f"http://127.0.0.1:{gateway.port}"

        async def status_and_body(method: str, path: str, **kw: object) -> tuple[int, ErrorBody]:
            async with http.request(method, base + path, **kw) as response:  # type: ignore[arg-type]
                return response.status, ErrorBody.model_validate_json(await response.read())

        auth = {"Authorization": f"Bearer {issuer.issue()}"}
        bad = await status_and_body("PUT", "/v1/memory/claims/k", data=b"[1]", headers=auth)
        assert (bad[0], bad[1].error) == (400, "invalid_request")
        auth = {"Authorization": f"Bearer {issuer.issue()}"}
        query = await status_and_body("GET", "/v1/memory/claims?limit=lots", headers=auth)
        assert (query[0], query[1].error) == (400, "invalid_request")
        unauthenticated = await status_and_body("GET", "/v1/memory/claims/k")
        assert (unauthenticated[0], unauthenticated[1].error) == (401, "unauthenticated")
        auth = {"Authorization": f"Bearer {issuer.issue()}"}
        denied = await status_and_body("GET", "/v1/memory/customers/k", headers=auth)
        assert (denied[0], denied[1].error) == (403, "policy_denied")
        assert denied[1].reasons
        assert denied[1].decision_id

        async with client(gateway, issuer) as gw:
            with pytest.raises(PolicyDenied) as refused:
                await gw.memory_get("customers", "k")
            assert refused.value.reasons == denied[1].reasons
            # Allowed by the policy, but no such tool is registered.
            with pytest.raises(GatewayRefused, match="tool_unknown"):
                await gw.invoke("nowhere", {}, idempotency_key="k-1")
            assert await gw.memory_get("claims", "missing") is None
