"""Hostile HTTP against the real gateway and registry (real Kafka, real OPA).

For every body, header, token and path Hypothesis generates, each service must: answer (stay
live), never answer 5xx, and never let a write through for an agent without the capability.
Timing is not asserted here; ``bench/adversarial_budget.py`` measures it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from urllib.parse import quote

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from longboat.gateway import GatewayService
from longboat.registry import RegistryService, TokenIssuer, generate_key, public_key_b64
from tests.adversarial._http import send
from tests.adversarial._registry import OPERATOR, ensure_topics, registry_service
from tests.adversarial._tally import record, report
from tests.integration.gateway.conftest import GatewayWorld, serving

pytestmark = pytest.mark.integration

HOSTILE = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ANSWERS = {200, 400, 401, 403, 404, 405, 413, 429}


@dataclass
class Stack:
    """A running gateway and registry with two agents: ``writer`` (capable) and ``nobody``."""

    gateway: GatewayService
    registry: RegistryService
    writer: TokenIssuer
    nobody: TokenIssuer

    def gw(self, path: str) -> str:
        return f"http://127.0.0.1:{self.gateway.port}{path}"

    def reg(self, path: str) -> str:
        return f"http://127.0.0.1:{self.registry.port}{path}"


@pytest.fixture(scope="module", autouse=True)
def _print_tally() -> Iterator[None]:
    yield
    print("\n" + report())  # noqa: T201


@pytest.fixture
async def stack(world: GatewayWorld) -> AsyncIterator[Stack]:
    await ensure_topics(world.settings)  # the world created them; wait until they are described
    writer = await world.enroll("writer", "memory:public", "memory:claims", "tool:weather")
    nobody = await world.enroll("nobody")
    await world.publish()
    async with (
        serving(world, rate_limit_per_minute=1_000_000, opa_timeout_ms=5_000) as gateway,
        registry_service(world.settings) as registry,
    ):
        yield Stack(gateway, registry, writer, nobody)


async def _alive(stack: Stack) -> None:
    assert (await send("GET", stack.gw("/livez")))[0] == 200
    assert (await send("GET", stack.reg("/livez")))[0] == 200


_words = st.sampled_from(["a", "1", "a@", "1 ", "@", "a.", "+1", "1-", "\u200b", "\uff20", "x@y."])
_long_words = st.tuples(_words, st.integers(min_value=1, max_value=20_000)).map(
    lambda t: t[0] * t[1]
)
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50)
    | _long_words,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4)
    ),
    max_leaves=12,
)
_write_bodies = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda v: json.dumps({"value": v}).encode(), _json_values),
    st.builds(
        lambda v, w: json.dumps({"value": v, "workflow_id": w}).encode(),
        _json_values,
        st.text(max_size=40) | st.integers(),
    ),
    st.sampled_from(
        [
            b'{"value": NaN}',
            b'{"value": 1e999999}',
            b'{"value": "\\ud800"}',
            b"[" * 5_000,
            b'{"value": 1, "extra": 2}',
            b"",
        ]
    ),
)


@HOSTILE
@given(
    body=_write_bodies,
    who=st.sampled_from(["writer", "nobody"]),
    bank=st.sampled_from(["public", "claims", "customers"]),
    key=st.text(min_size=1, max_size=30),
)
async def test_memory_writes(stack: Stack, body: bytes, who: str, bank: str, key: str) -> None:
    """Any write body: a 2xx/4xx answer; the uncapable agent and bank never get a write in."""
    issuer = stack.writer if who == "writer" else stack.nobody
    path = f"/v1/memory/{quote(bank, safe='')}/{quote(key, safe='')}"
    status, answer = await send("PUT", stack.gw(path), body=body, token=issuer.issue())
    record(f"gateway.put.{who}", status)
    assert status in ANSWERS, (status, answer)
    if status == 200:
        assert who == "writer"
        assert bank in ("public", "claims")
        item = stack.gateway.memory.get(bank, answer["key"])
        assert item is not None
        assert item.provenance.agent == "writer"
    await _alive(stack)


def _forged(stack: Stack) -> st.SearchStrategy[str]:
    kid = stack.writer.kid
    attacker = generate_key()
    claims = st.fixed_dictionaries(
        {"sub": st.sampled_from(["writer", "nobody"]), "ver": st.just("1.0")},
        optional={
            "iat": st.integers(min_value=0, max_value=2**40),
            "exp": st.integers(min_value=0, max_value=2**40),
            "jti": st.text(max_size=8),
            "ins": st.text(max_size=8),
        },
    )
    return st.one_of(
        st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=200),
        claims.map(lambda c: jwt.encode(c, attacker, algorithm="EdDSA", headers={"kid": kid})),
        claims.map(lambda c: jwt.encode(c, public_key_b64(attacker), algorithm="HS256")),
        claims.map(lambda c: jwt.encode(c, "", algorithm="none", headers={"kid": kid})),
        st.just("replay"),
    )


@HOSTILE
@given(
    data=st.data(),
    route=st.sampled_from(
        [
            "GET /v1/memory/public/k",
            "PUT /v1/memory/public/k",
            "POST /v1/tools/weather/invoke",
            "GET /v1/memory/public",
        ]
    ),
)
async def test_forged_tokens(stack: Stack, data: st.DataObject, route: str) -> None:
    """Forged, replayed or garbage tokens get 401 on every guarded route, never 2xx or 5xx."""
    token = data.draw(_forged(stack))
    if token == "replay":
        token = stack.writer.issue()
        await send("GET", stack.gw("/v1/memory/public/k"), token=token)
    method, path = route.split(" ")
    body = b'{"value": 1}' if method == "PUT" else b'{"idempotency_key": "k"}'
    status, answer = await send(method, stack.gw(path), body=body, token=token)
    record("gateway.forged_token", status)
    assert status in (400, 401), (status, answer)


@HOSTILE
@given(
    name=st.sampled_from(["Authorization", "Content-Type", "Content-Length", "X-Anything"]),
    value=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=300),
)
async def test_hostile_headers(stack: Stack, name: str, value: str) -> None:
    """Odd headers on a write never get 5xx and never a write without a valid token."""
    headers = {name: value}
    token = None if name == "Authorization" else stack.nobody.issue()
    try:
        status, answer = await send(
            "PUT",
            stack.gw("/v1/memory/public/h"),
            body=b'{"value": 1}',
            token=token,
            headers=headers,
        )
    except Exception as e:  # the client refused to send it (e.g. a bad Content-Length)
        record("gateway.header", type(e).__name__)
        return
    record("gateway.header", status)
    assert status in ANSWERS - {200}, (status, answer)
    await _alive(stack)


@HOSTILE
@given(
    bank=st.text(min_size=1, max_size=40),
    key=st.text(min_size=1, max_size=40),
    query=st.text(max_size=300),
    limit=st.text(max_size=6),
)
async def test_paths_and_queries(stack: Stack, bank: str, key: str, query: str, limit: str) -> None:
    """Any bank, key, search text and limit: answered with 2xx/4xx."""
    issuer = stack.writer
    get_path = f"/v1/memory/{quote(bank, safe='')}/{quote(key, safe='')}"
    status, _ = await send("GET", stack.gw(get_path), token=issuer.issue())
    record("gateway.get", status)
    assert status in ANSWERS
    search = f"/v1/memory/{quote(bank, safe='')}?q={quote(query)}&limit={quote(limit)}"
    status, answer = await send("GET", stack.gw(search), token=issuer.issue())
    record("gateway.search", status)
    assert status in ANSWERS, (status, answer)


@HOSTILE
@given(
    body=_write_bodies,
    who=st.sampled_from(["none", "wrong", "operator", "agent"]),
    route=st.sampled_from(
        ["/v1/agents", "/v1/agents/writer/revoke", "/v1/agents/writer/heartbeat"]
    ),
)
async def test_registry_bodies(stack: Stack, body: bytes, who: str, route: str) -> None:
    """Any body to any registry mutation: never 5xx; without the operator token, no change."""
    token: dict[str, str | None] = {
        "none": None,
        "wrong": OPERATOR + "x",
        "operator": OPERATOR,
        "agent": stack.writer.issue(),
    }
    if route.endswith("/revoke") and who == "operator":
        route = "/v1/agents/nobody-else/revoke"  # keep the writer enrolled for the others
    status, answer = await send("POST", stack.reg(route), body=body, token=token[who])
    record(f"registry.{route.rsplit('/', 1)[-1]}.{who}", status)
    assert status in ANSWERS | {201}, (status, answer)
    if status in (200, 201):
        assert who == "operator" or (who == "agent" and route.endswith("/heartbeat"))
    await _alive(stack)
