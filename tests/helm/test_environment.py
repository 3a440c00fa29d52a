"""The chart renders into each container the environment that ``fleet up`` gives the same
process: both come from one mapping, ``longboat.fleet.process_environment``.

Addresses, ports, instance names and file paths differ by platform (PLATFORM_VARIABLES), and
secrets come from Secrets on Kubernetes; everything else must be equal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helm.conftest import FLEETS, Manifest, Render

pytestmark = pytest.mark.integration

fleet_module = pytest.importorskip("longboat.fleet", reason="the fleet model lands with issue 12")


def _literal_env(container: dict[str, Any]) -> dict[str, str]:
    """The container's plain variables minus platform-specific ones (secrets are valueFrom)."""
    platform = fleet_module.PLATFORM_VARIABLES
    return {
        e["name"]: e["value"]
        for e in container.get("env", [])
        if "value" in e and e["name"] not in platform
    }


def _expected(fleet: Any, component: str, agent: str | None = None) -> dict[str, str]:
    addresses = fleet_module.ProcessAddresses(
        bootstrap_servers="platform",
        registry_url="http://platform",
        gateway_url="http://platform",
        coordinator_url="http://platform",
        port=1,
    )
    env: dict[str, str] = fleet_module.process_environment(
        fleet, component, instance="platform", addresses=addresses, agent=agent
    )
    return {k: v for k, v in env.items() if k not in fleet_module.PLATFORM_VARIABLES}


def _containers(manifests: list[Manifest]) -> dict[str, dict[str, Any]]:
    return {
        m["metadata"]["name"]: m["spec"]["template"]["spec"]["containers"][0]
        for m in manifests
        if m["kind"] in ("Deployment", "StatefulSet")
    }


@pytest.mark.parametrize("name", ["minimal", "full", "existing-secrets", "sasl-tls"])
def test_each_container_gets_what_process_environment_gives(render: Render, name: str) -> None:
    """Registry, gateway, coordinator and every active agent: the same variables and values."""
    path: Path = FLEETS / f"{name}.yaml"
    fleet = fleet_module.load_fleet(path)
    containers = _containers(render(path))
    prefix = fleet.name
    for component in ("registry", "gateway", "coordinator"):
        rendered = _literal_env(containers[f"{prefix}-{component}"])
        assert rendered == _expected(fleet, component), component
    for agent in fleet.agents:
        if agent.status == "canary":
            continue  # process_environment looks agents up by name: the active entry
        rendered = _literal_env(containers[f"{prefix}-agent-{agent.name}"])
        assert rendered == _expected(fleet, "agent", agent.name), agent.name
