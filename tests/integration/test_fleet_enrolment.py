"""`fleet up`'s enrolment against a real registry: a canary, its promotion, a kept revocation."""

from __future__ import annotations

from pathlib import Path

from longboat import Settings
from longboat.fleet import Fleet, parse_fleet
from longboat.fleet._bootstrap import enrol_agents
from longboat.registry import RegistryClient
from tests.integration.registry.test_registry_service import (
    OPERATOR,
    _topics,
    _url,
    registry_service,
)

ACTIVE = '{name: mod, module: "m:agent", version: "VERSION"}'
CANARY = '{name: mod, module: "m:agent", version: "VERSION", status: canary}'


def _fleet(active: str, canary: str | None = None) -> Fleet:
    agents = [ACTIVE.replace("VERSION", active)]
    if canary is not None:
        agents.append(CANARY.replace("VERSION", canary))
    return parse_fleet(f"name: f\nagents: [{', '.join(agents)}]\n", source="fleet.yaml")


async def _statuses(url: str) -> dict[str, str]:
    async with RegistryClient(url) as registry:
        record = await registry.get("mod")
    return {version: entry.status for version, entry in record.versions.items()}


async def test_a_canary_is_enrolled_promoted_and_a_revocation_kept(
    settings: Settings, tmp_path: Path
) -> None:
    """Canary 1.1 enrols as canary; promoted it turns active; a revoked 1.0 stays revoked."""
    await _topics(settings)
    async with registry_service(settings) as service:
        url = _url(service)
        keys = await enrol_agents(
            _fleet("1.0", "1.1"), registry_url=url, token=OPERATOR, keys=tmp_path
        )
        assert set(keys) == {"mod", "mod-canary"}
        assert keys["mod"] != keys["mod-canary"]  # each version its own key
        assert await _statuses(url) == {"1.0": "active", "1.1": "canary"}

        promoted = await enrol_agents(
            _fleet("1.1"), registry_url=url, token=OPERATOR, keys=tmp_path
        )
        assert promoted["mod"] == keys["mod-canary"]  # the canary's key, kept
        assert await _statuses(url) == {"1.0": "active", "1.1": "active"}

        async with RegistryClient(url, operator_token=OPERATOR) as registry:
            await registry.revoke("mod", version="1.0")
        await enrol_agents(_fleet("1.0", "1.1"), registry_url=url, token=OPERATOR, keys=tmp_path)
        assert await _statuses(url) == {"1.0": "revoked", "1.1": "canary"}
