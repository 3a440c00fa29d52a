"""Regressions for the gateway findings of issue 11, each reproduced through the HTTP API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from longboat.gateway import DecisionRecord, MemoryAudit
from longboat.gateway._memory import MAX_VALUE_BYTES
from tests.adversarial._http import send
from tests.helpers import assert_eventually
from tests.integration.agents.conftest import read_all
from tests.integration.gateway.conftest import GatewayWorld, serving

pytestmark = pytest.mark.integration


def _url(port: int, path: str) -> str:
    return f"http://127.0.0.1:{port}{path}"


async def _decisions(world: GatewayWorld) -> list[DecisionRecord]:
    return [
        DecisionRecord.model_validate_json(r.value or b"")
        for r in await read_all(world.settings.kafka, world.names.decisions)
    ]


async def test_uncapable_agent_is_refused_before_classification(world: GatewayWorld) -> None:
    """Finding 1: an agent without the bank's capability gets 403 with nothing classified."""
    issuer = await world.enroll("intruder")
    await world.publish()
    word = "a" * 60_000 + " jane@example.com"
    async with serving(world) as gateway:
        status, body = await send(
            "PUT",
            _url(gateway.port, "/v1/memory/claims/k"),
            body=json.dumps({"value": word}).encode(),
            token=issuer.issue(),
        )
        assert status == 403, body
        assert body["reasons"] == ["no capability grants this access"]
    decisions = await assert_eventually(lambda: _decisions(world), bool, what="decision")
    assert [d.input.context.pii for d in decisions] == [[]]  # refused unclassified


async def test_long_word_is_classified_and_oversize_refused(world: GatewayWorld) -> None:
    """Finding 1: a 200 kB unbroken word is classified to the end; a bigger body gets 413."""
    issuer = await world.enroll("triage", "memory:public")
    await world.publish()
    async with serving(world) as gateway:
        word = "x" * 200_000 + "jane@example.com"  # one token, the address at its very end
        status, body = await send(
            "PUT",
            _url(gateway.port, "/v1/memory/public/k"),
            body=json.dumps({"value": "note " + word[-30:] + " " + word}).encode(),
            token=issuer.issue(),
        )
        assert status == 403, body
        assert body["reasons"] == ["bank public is not classified for email"]
        status, body = await send(
            "PUT",
            _url(gateway.port, "/v1/memory/public/k"),
            body=json.dumps({"value": "y" * MAX_VALUE_BYTES}).encode(),
            token=issuer.issue(),
        )
        assert status == 413, body
        assert body["error"] == "json_too_large"
        status, _ = await send("GET", _url(gateway.port, "/livez"))
        assert status == 200


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("k", "jane\uff20example.com"),
        ("k", "jane@ex\u0430mple.com"),
        ("k", "jane@exa\u200bmple.com"),
        ("k", "jane @ example.com"),
        ("k", "4111.1111.1111.1111"),
        ("k", "de89 3704 0044 0532 0130 00"),
        ("k", "555\u2011123\u20114567"),
        ("jane@example.com", "nothing personal"),
    ],
)
async def test_obfuscated_pii_is_refused(world: GatewayWorld, key: str, value: str) -> None:
    """Finding 3: each reported evasion, in the value or in the key, is refused for `public`."""
    issuer = await world.enroll("triage", "memory:public")
    await world.publish()
    async with serving(world) as gateway:
        status, body = await send(
            "PUT",
            _url(gateway.port, f"/v1/memory/public/{key}"),
            body=json.dumps({"value": value}).encode(),
            token=issuer.issue(),
        )
        assert status == 403, body
        assert all("not classified for" in r or "keys may not" in r for r in body["reasons"])


@pytest.mark.parametrize("allow", ['"true"', "1", '"yes"', "[true]"])
async def test_non_boolean_allow_denies(world: GatewayWorld, tmp_path: Path, allow: str) -> None:
    """Finding 4: a policy answering allow "true" or 1 is a malformed decision: 403."""
    issuer = await world.enroll("triage", "memory:claims")
    policies = tmp_path / "policies" / "longboat"
    policies.mkdir(parents=True)
    (policies / "gateway.rego").write_text(
        "package longboat.gateway\n\n"
        f'decision := {{"allow": {allow}, "reasons": [], "obligations": []}}\n'
    )
    await world.publish(tmp_path / "policies")
    async with serving(world) as gateway:
        status, body = await send(
            "GET", _url(gateway.port, "/v1/memory/claims/k"), token=issuer.issue()
        )
        assert status == 403, body
        assert body["reasons"] == ["policy decision malformed: denied"]


async def test_large_value_twice_gets_413_not_500(world: GatewayWorld) -> None:
    """Finding 5: values the audit record cannot hold are refused with 413 before producing."""
    issuer = await world.enroll("triage", "memory:public")
    await world.publish()
    async with serving(world) as gateway:
        url = _url(gateway.port, "/v1/memory/public/big")
        value = json.dumps({"value": "z" * (MAX_VALUE_BYTES - 100)}).encode()
        first = await send("PUT", url, body=value, token=issuer.issue())
        second = await send("PUT", url, body=value, token=issuer.issue())
        assert (first[0], second[0]) == (200, 200), (first, second)
        huge = json.dumps({"value": "z" * 600_000}).encode()
        status, body = await send("PUT", url, body=huge, token=issuer.issue())
        assert status == 413, body
    audits = [
        MemoryAudit.model_validate_json(r.value or b"")
        for r in await read_all(world.settings.kafka, world.names.memory_audit)
    ]
    assert [a.revision for a in audits] == [1, 2]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999999", "-1e999999"])
async def test_non_finite_numbers_get_400(world: GatewayWorld, number: str) -> None:
    """Finding 6: NaN, Infinity and overflowing numbers are refused; nothing is stored."""
    issuer = await world.enroll("triage", "memory:public")
    await world.publish()
    async with serving(world) as gateway:
        url = _url(gateway.port, "/v1/memory/public/n")
        body = ('{"value": {"x": ' + number + "}}").encode()
        status, answer = await send("PUT", url, body=body, token=issuer.issue())
        assert status == 400, answer
        assert answer["error"] == "json_invalid"
        status, answer = await send("GET", url, token=issuer.issue())
        assert status == 404, answer


async def test_personal_data_in_keys_is_refused_and_not_logged(world: GatewayWorld) -> None:
    """Finding 3: PII in a key is refused even where the bank allows it; the log redacts it."""
    issuer = await world.enroll("triage", "memory:customers", "memory:public")
    await world.publish()
    async with serving(world) as gateway:
        for bank in ("customers", "public"):
            status, body = await send(
                "PUT",
                _url(gateway.port, f"/v1/memory/{bank}/jane@example.com"),
                body=b'{"value": "nothing personal"}',
                token=issuer.issue(),
            )
            assert status == 403, body
            assert "memory keys may not hold email" in body["reasons"]
    decisions = await assert_eventually(
        lambda: _decisions(world), lambda d: len(d) >= 2, what="decisions"
    )
    assert {d.input.resource.key for d in decisions} == {"[redacted: personal data]"}
