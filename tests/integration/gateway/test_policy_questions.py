"""Governed policy questions (POST /v1/decisions/{policy}) on the real gateway and OPA."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pydantic import JsonValue

from longboat.gateway import DECISION_RECORDS, DecisionRecord, PolicyDenied
from longboat.gateway._client import GatewayRefused
from tests.helpers import assert_eventually
from tests.integration.agents.conftest import read_all
from tests.integration.gateway.conftest import POLICIES, GatewayWorld, client, serving


async def _answers(world: GatewayWorld) -> list[DecisionRecord]:
    records = await read_all(world.settings.kafka, world.names.decisions)
    decoded = [DECISION_RECORDS.decode_value(r.value or b"") for r in records]
    return [d for d in decoded if d.input.action == "policy.decide"]


def _stricter_policies(tmp_path: Path) -> Path:
    """The shipped policies with 'crypto' added to the moderation's blocked words."""
    folder = tmp_path / "policies-v2"
    shutil.copytree(POLICIES, folder)
    data_file = folder / "longboat" / "moderation" / "data.json"
    data = json.loads(data_file.read_text())
    data["rules"]["block_words"].append("crypto")
    data_file.write_text(json.dumps(data))
    return folder


async def test_published_rule_change_changes_the_verdict_without_restart(
    world: GatewayWorld, tmp_path: Path
) -> None:
    """Data v1 allows a post, data v2 blocks it: the same running gateway answers both."""
    issuer = await world.enroll("moderator", "policy:moderation")
    first = await world.publish()
    post: JsonValue = {"text": "Buy crypto now"}
    async with serving(world) as gateway, client(gateway, issuer) as gw:
        before = await gw.decide("moderation", post, workflow_id="wf-1")
        assert before["decision"] == {"verdict": "allow", "reasons": []}
        assert before["policy_digest"] == first.digest
        blocked = await gw.decide("moderation", {"text": "a scam"})
        assert blocked["decision"] == {"verdict": "block", "reasons": ["blocked word: scam"]}
        second = await world.publish(_stricter_policies(tmp_path))
        after = await assert_eventually(
            lambda: gw.decide("moderation", post),
            lambda a: a["policy_digest"] == second.digest,
            what="the gateway on the second bundle",
        )
        assert after["decision"] == {"verdict": "block", "reasons": ["blocked word: crypto"]}
    records = await assert_eventually(
        lambda: _answers(world), lambda r: len(r) >= 3, what="answers in lb.decisions"
    )
    by_id = {r.decision_id: r for r in records}
    logged = by_id[before["decision_id"]]
    assert logged.answer == before["decision"]
    assert logged.policy_digest == first.digest
    assert logged.input.resource.name == "moderation"
    assert logged.input.context.workflow_id == "wf-1"
    assert by_id[after["decision_id"]].answer == after["decision"]
    assert by_id[after["decision_id"]].policy_digest == second.digest


async def test_question_needs_the_policy_capability(world: GatewayWorld) -> None:
    """An agent without policy:moderation is denied (403) and the deny is logged."""
    issuer = await world.enroll("triage", "memory:claims")
    await world.publish()
    async with serving(world) as gateway, client(gateway, issuer) as gw:
        with pytest.raises(PolicyDenied) as denied:
            await gw.decide("moderation", {"text": "hello"})
    assert denied.value.reasons == ["no capability grants this access"]
    records = await assert_eventually(
        lambda: _answers(world), lambda r: len(r) >= 1, what="the deny in lb.decisions"
    )
    assert [(r.decision.allow, r.answer) for r in records] == [(False, None)]


async def test_unknown_or_reserved_policy_is_refused_clearly(world: GatewayWorld) -> None:
    """A policy nobody defines is a 404 policy_unknown; 'gateway' or a bad name is a 400."""
    issuer = await world.enroll("asker", "policy:nothing", "policy:gateway")
    await world.publish()
    async with serving(world) as gateway, client(gateway, issuer) as gw:
        with pytest.raises(GatewayRefused, match="policy_unknown"):
            await gw.decide("nothing", {"text": "x"})
        with pytest.raises(GatewayRefused, match="not a question policy"):
            await gw.decide("gateway", {})
        with pytest.raises(GatewayRefused, match="lower-case Rego identifier"):
            await gw.decide("Bad-Name", {})
