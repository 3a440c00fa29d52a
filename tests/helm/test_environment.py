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


def _expected(fleet: Any, component: str, agent: Any = None) -> dict[str, str]:
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


@pytest.mark.parametrize("name", ["minimal", "full", "existing-secrets", "sasl-tls", "canary"])
def test_each_container_gets_what_process_environment_gives(render: Render, name: str) -> None:
    """Registry, gateway, coordinator and every agent entry, canaries too: the same variables."""
    path: Path = FLEETS / f"{name}.yaml"
    fleet = fleet_module.load_fleet(path)
    containers = _containers(render(path))
    prefix = fleet.name
    for component in ("registry", "gateway", "coordinator"):
        rendered = _literal_env(containers[f"{prefix}-{component}"])
        assert rendered == _expected(fleet, component), component
    for agent in fleet.agents:
        # The entry's StatefulSet: <fleet>-agent-<name>, or <fleet>-agent-<name>-canary.
        rendered = _literal_env(containers[f"{prefix}-agent-{agent.stem}"])
        assert rendered == _expected(fleet, "agent", agent), agent.stem


def test_a_canary_pod_is_named_like_its_fleet_up_instance(render: Render) -> None:
    """Canary pods are <fleet>-agent-NAME-canary-i; `fleet up` runs NAME-canary-i: one naming."""
    fleet = fleet_module.load_fleet(FLEETS / "canary.yaml")
    canary = fleet.agents[1]
    statefulset = next(
        m
        for m in render(FLEETS / "canary.yaml")
        if m["kind"] == "StatefulSet" and m["metadata"]["name"].endswith("-canary")
    )
    pod = f"{statefulset['metadata']['name']}-0"  # StatefulSet pods: <name>-<ordinal>
    assert pod == f"{fleet.name}-agent-{canary.instance(0)}"
