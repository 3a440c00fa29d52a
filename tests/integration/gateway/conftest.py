"""A gateway world: real broker, a fresh real OPA per test, a registry with enrolled agents."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from longboat import Settings, TopicNames
from longboat.devinfra import start_opa, stop_process
from longboat.devinfra._opa import OPA_MARKER, OpaNode
from longboat.gateway import (
    GatewayClient,
    GatewayService,
    GatewaySettings,
    PolicyBundle,
    publish_bundle,
)
from longboat.gateway._settings import GatewayServiceSettings
from longboat.kafka import Admin
from longboat.registry import (
    Capability,
    RegistryStore,
    RiskTier,
    Status,
    TokenIssuer,
    generate_key,
    public_key_b64,
)
from tests.helpers import assert_eventually

REPO = Path(__file__).resolve().parents[3]
POLICIES = REPO / "policies"


@dataclass
class GatewayWorld:
    """Everything one gateway test needs."""

    settings: Settings
    names: TopicNames
    opa: OpaNode
    opa_binary: Path
    data_dir: Path
    tools_file: Path
    issuers: dict[str, TokenIssuer] = field(default_factory=dict)

    def gateway_settings(self, **options: object) -> GatewaySettings:
        service = GatewayServiceSettings.model_validate(
            {"port": 0, "instance": "gw-test", "tools_file": self.tools_file, **options}
        )
        return GatewaySettings(
            kafka=self.settings.kafka,
            topic_prefix=self.settings.topic_prefix,
            opa_url=self.opa.url,
            gateway=service,
        )

    async def enroll(
        self, agent: str, *caps: str, status: Status = "active", risk_tier: RiskTier = "medium"
    ) -> TokenIssuer:
        key = generate_key()
        store = RegistryStore(self.settings.kafka, self.names.registry, rotation_grace=timedelta(0))
        async with store:
            capabilities = tuple(Capability.parse(c) for c in caps)
            await store.enroll(
                agent,
                version="1.0",
                public_key=public_key_b64(key),
                capabilities=capabilities,
                risk_tier=risk_tier,
            )
            if status != "active":
                await store.set_status(agent, status)
        issuer = TokenIssuer(key, agent_id=agent, version="1.0", instance="pod-1")
        self.issuers[agent] = issuer
        return issuer

    async def publish(self, folder: Path = POLICIES) -> PolicyBundle:
        bundle = PolicyBundle.from_dir(folder)
        await publish_bundle(
            bundle, kafka=self.settings.kafka, topic_prefix=self.settings.topic_prefix
        )
        return bundle

    def restart_opa(self) -> None:
        stop_process(self.opa.pid, OPA_MARKER)
        self.opa = start_opa(self.opa_binary, self.data_dir, port=self.opa.port)

    def stop_opa(self) -> None:
        stop_process(self.opa.pid, OPA_MARKER)


@pytest.fixture
async def world(
    settings: Settings, fresh_opa: tuple[OpaNode, Path], tmp_path: Path
) -> GatewayWorld:
    names = TopicNames(settings.topic_prefix)
    async with Admin(settings.kafka) as admin:
        await admin.ensure_topics(names.system_topics(partitions=1))
    tools = tmp_path / "tools.json"
    tools.write_text(
        json.dumps(
            {
                "tools": {
                    "payments": {
                        "kind": "python",
                        "callable": "tests.integration.gateway.tools_for_tests:charge",
                    },
                    "weather": {
                        "kind": "python",
                        "callable": "tests.integration.gateway.tools_for_tests:charge",
                    },
                }
            }
        )
    )
    node, binary = fresh_opa
    return GatewayWorld(settings, names, node, binary, tmp_path / "opa", tools)


@contextlib.asynccontextmanager
async def serving(world: GatewayWorld, **options: object) -> AsyncIterator[GatewayService]:
    """Run a gateway until the block ends; waits until a policy is loaded.

    OPA gets 5 s unless a test says otherwise: the production default (50 ms, then deny) is a
    latency budget, and on a loaded 2-core test machine it would turn an allow into a fail-closed
    deny and fail tests about something else. Outages are tested by stopping OPA (refused at once).
    """
    options.setdefault("opa_timeout_ms", 5000)
    async with GatewayService(world.gateway_settings(**options)) as service:
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


def client(service: GatewayService, issuer: TokenIssuer) -> GatewayClient:
    """A gateway client authenticated as ``issuer``'s agent."""
    return GatewayClient(f"http://127.0.0.1:{service.port}", token=issuer.issue)
