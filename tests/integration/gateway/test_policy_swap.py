"""A published bundle replaces the running one in a single step: decisions asked while a gateway
loads it see the old bundle or the new one, never a mix of their modules."""

from __future__ import annotations

import asyncio

from longboat import KafkaSettings, TopicNames, utc_now
from longboat.devinfra import OpaNode
from longboat.gateway import PolicyBundle
from longboat.gateway._decision import AgentFacts, PolicyContext, PolicyInput, Resource
from longboat.gateway._distribution import PolicyDistributor
from longboat.gateway._opa import PolicyEngine
from longboat.kafka import Admin

# The entry point asks a rule of another module; each bundle renames that rule. Loading either
# bundle's modules one by one leaves OPA, in between, with an entry point whose rule is missing.
_ENTRY = """package longboat.gateway

import data.longboat.rules

decision := {{"allow": rules.{rule}, "reasons": ["{rule}"]}}
"""
_RULES = """package longboat.rules

{rule} if input.action == "memory.read"
"""
_INPUT = PolicyInput(
    agent=AgentFacts(
        id="reader",
        version="1.0",
        status="active",
        capabilities=[],
        risk_tier="low",
        owner="tests",
    ),
    action="memory.read",
    resource=Resource(kind="memory", name="claims"),
    context=PolicyContext(),
)


def _bundle(rule: str) -> PolicyBundle:
    modules = {
        "longboat/gateway.rego": _ENTRY.format(rule=rule),
        "longboat/rules.rego": _RULES.format(rule=rule),
    }
    return PolicyBundle(
        name="longboat", digest=f"sha256:{rule}", modules=modules, data={}, published_at=utc_now()
    )


async def test_decisions_during_a_bundle_swap_never_see_half_a_bundle(
    kafka: KafkaSettings, unique: str, fresh_opa: tuple[OpaNode, object]
) -> None:
    """An input both bundles allow is allowed by every decision asked while bundles swap."""
    names = TopicNames(f"t{unique}.")
    async with Admin(kafka) as admin:
        policies = [t for t in names.system_topics(partitions=1) if t.name == names.policies]
        await admin.ensure_topics(policies)
    old, new = _bundle("allowed_old"), _bundle("allowed_new")
    answers: list[str] = []
    swapping = True

    async def ask(engine: PolicyEngine) -> None:
        while swapping:
            decision, _ = await engine.decide(_INPUT)
            answers.append(decision.reasons[0] if decision.allow else "denied")

    engine = PolicyEngine(fresh_opa[0].url, timeout_ms=2000)
    async with engine, PolicyDistributor(kafka, names.policies, engine, instance=unique) as dist:
        assert await dist.apply(old)
        askers = [asyncio.create_task(ask(engine)) for _ in range(4)]
        try:
            for bundle in (new, old) * 5:
                assert await dist.apply(bundle)
                await asyncio.sleep(0.01)  # decisions under the bundle just loaded, too
        finally:
            swapping = False
            await asyncio.gather(*askers)
    denied = answers.count("denied")
    assert answers.count("allowed_old") > 0  # both bundles decided: the askers were busy
    assert answers.count("allowed_new") > 0
    assert denied == 0, f"{denied} of {len(answers)} decisions denied during the swaps"
