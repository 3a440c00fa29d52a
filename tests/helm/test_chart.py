"""The chart as a whole: helm lint --strict, rendering every fleet fixture, and every rendered
object validated offline against the Kubernetes API schemas (strict: unknown fields fail)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, _unavailable
from tests.helm.conftest import CHART, FLEETS, KUBE_TARGET, Render, run_helm

pytestmark = pytest.mark.integration

FLEET_FILES = sorted(FLEETS.glob("*.yaml"))
# Custom resources: their schemas come with their operators, not with Kubernetes.
CUSTOM_KINDS = {"ServiceMonitor", "ScaledObject", "TriggerAuthentication"}
SCHEMA_VERSION = "1.36.0"


def _validator() -> Any:
    try:
        import kubernetes_validate  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError:
        _unavailable("kubernetes-validate is not installed (pip install -c requirements.lock)")
    return kubernetes_validate


@pytest.mark.parametrize("fleet", FLEET_FILES, ids=lambda p: p.stem)
def test_lint_strict_passes(helm: Path, fleet: Path) -> None:
    """helm lint --strict accepts the chart with each fleet file as values."""
    run_helm(helm, "lint", "--strict", str(CHART), "-f", str(fleet), "--kube-version", KUBE_TARGET)


@pytest.mark.parametrize("fleet", FLEET_FILES, ids=lambda p: p.stem)
def test_every_object_matches_the_kubernetes_schemas(render: Render, fleet: Path) -> None:
    """Every rendered object validates strictly against the Kubernetes API schemas."""
    validator = _validator()
    manifests = render(fleet)
    checked = 0
    for manifest in manifests:
        if manifest["kind"] in CUSTOM_KINDS:
            continue
        validator.validate(manifest, SCHEMA_VERSION, strict=True)
        checked += 1
    assert checked > 10


def test_the_validator_refuses_an_unknown_field(render: Render) -> None:
    """The schema check is not vacuous: a misspelt field in a StatefulSet is refused."""
    validator = _validator()
    statefulset = next(m for m in render(FLEETS / "minimal.yaml") if m["kind"] == "StatefulSet")
    statefulset["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(validator.ValidationError):
        validator.validate(statefulset, SCHEMA_VERSION, strict=True)


def test_unknown_values_are_refused_by_the_schema(helm: Path, tmp_path: Path) -> None:
    """values.schema.json rejects a key the fleet file does not have (additionalProperties)."""
    fleet = tmp_path / "typo.yaml"
    fleet.write_text((FLEETS / "minimal.yaml").read_text() + "gateway:\n  opaTimeoutMillis: 50\n")
    with pytest.raises(AssertionError, match="opaTimeoutMillis"):
        run_helm(
            helm, "template", "rel", str(CHART), "-f", str(fleet), "--kube-version", KUBE_TARGET
        )


def test_a_missing_broker_address_is_a_clear_error(helm: Path, tmp_path: Path) -> None:
    """Without kafka.bootstrapServers the chart refuses with a message saying what to set."""
    fleet = tmp_path / "nobroker.yaml"
    fleet.write_text("name: nobroker\nkafka: {bootstrapServers: ''}\n")
    with pytest.raises(AssertionError, match=r"kafka\.bootstrapServers is required"):
        run_helm(
            helm, "template", "rel", str(CHART), "-f", str(fleet), "--kube-version", KUBE_TARGET
        )


def test_more_replicas_than_partitions_is_refused(render: Render) -> None:
    """An agent with more replicas than partitions fails with the fix in the message."""
    fleet = {
        "name": "over",
        "kafka": {"bootstrapServers": "k:9092", "partitions": 2},
        "agents": [{"name": "a", "module": "m:agent", "version": "1", "replicas": 3}],
    }
    with pytest.raises(AssertionError, match=r"exceeds kafka\.partitions"):
        render(fleet)


def test_a_second_registry_writer_is_refused(render: Render) -> None:
    """registry.replicas other than 1 is refused: the registry is the single writer."""
    fleet = {"name": "two", "kafka": {"bootstrapServers": "k:9092"}, "registry": {"replicas": 2}}
    with pytest.raises(AssertionError, match=r"registry/replicas|registry\.replicas must be 1"):
        render(fleet)


EXAMPLE = REPO / "examples" / "claims" / "fleet.yaml"
# The example runs locally on `dev up`'s broker (""); the chart needs an address.
EXAMPLE_BROKER = ("--set", "kafka.bootstrapServers=my-cluster-kafka-bootstrap.kafka:9092")


def test_the_example_fleet_lints_and_validates(helm: Path, render: Render) -> None:
    """examples/claims/fleet.yaml, which `fleet up` runs, lints and renders valid objects too."""
    run_helm(
        helm, "lint", "--strict", str(CHART), "-f", str(EXAMPLE), *EXAMPLE_BROKER,
        "--kube-version", KUBE_TARGET,
    )  # fmt: skip
    validator = _validator()
    manifests = render(EXAMPLE, *EXAMPLE_BROKER)
    agents = [
        m for m in manifests if m["kind"] == "StatefulSet" and "-agent-" in m["metadata"]["name"]
    ]
    assert len(agents) == 6
    for manifest in manifests:
        validator.validate(manifest, SCHEMA_VERSION, strict=True)
