"""The chart installed into a real kube-apiserver, in a namespace that enforces the restricted
Pod Security level: the API server's own validation and admission judge every object.

No pods run (there is no container runtime or controller-manager): the objects must be accepted.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from longboat.devinfra._kube import KubeApiServer
from tests.helm.conftest import CHART, FLEETS, KUBE_TARGET, run_helm
from tests.helm.test_chart import EXAMPLE, EXAMPLE_BROKER

pytestmark = pytest.mark.integration

RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}


def _kubectl(
    kubectl: Path, server: KubeApiServer, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(kubectl), "--kubeconfig", str(server.kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _restricted_namespace(kubectl: Path, server: KubeApiServer, name: str) -> str:
    """A namespace labelled for the restricted level, with the ServiceAccount a controller
    would have made (none runs here)."""
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": RESTRICTED},
    }
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": name},
    }
    for manifest in (namespace, account):
        result = _kubectl(kubectl, server, "create", "-f", "-", stdin=json.dumps(manifest))
        assert result.returncode == 0, result.stderr
    return name


# The CRDs of KEDA and the Prometheus Operator are not installed here; fixtures without them.
INSTALLABLE = ["minimal", "existing-secrets"]


@pytest.fixture
def fleet_for_install(tmp_path: Path) -> Path:
    """The full fixture without the custom resources this API server does not know."""
    text = (FLEETS / "full.yaml").read_text()
    text = text.replace("serviceMonitor: {enabled: true", "serviceMonitor: {enabled: false")
    text = text.replace("keda: {enabled: true", "keda: {enabled: false")
    path = tmp_path / "full-core.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("fleet", [*INSTALLABLE, "full-core", "example"])
def test_helm_install_is_admitted_in_a_restricted_namespace(
    helm: Path,
    kubectl: Path,
    kube_apiserver: KubeApiServer,
    unique: str,
    fleet: str,
    fleet_for_install: Path,
) -> None:
    """helm install stores every object of the release in a restricted namespace."""
    values = {"full-core": fleet_for_install, "example": EXAMPLE}.get(
        fleet, FLEETS / f"{fleet}.yaml"
    )
    extra = EXAMPLE_BROKER if fleet == "example" else ()
    namespace = _restricted_namespace(kubectl, kube_apiserver, f"lb-{unique}")
    # Hooks (the setup Job) would wait for a Job that no controller runs; the dry-run test below
    # submits the Job to the same admission.
    run_helm(
        helm,
        "install",
        "rel",
        str(CHART),
        "-f",
        str(values),
        "--namespace",
        namespace,
        "--no-hooks",
        *extra,
        kubeconfig=kube_apiserver.kubeconfig,
    )
    stored = _kubectl(
        kubectl,
        kube_apiserver,
        "get",
        "statefulsets,deployments,networkpolicies,pdb,secrets",
        "-n",
        namespace,
        "-o",
        "name",
    )
    assert stored.returncode == 0, stored.stderr
    assert "statefulset.apps/" in stored.stdout
    assert "deployment.apps/" in stored.stdout
    assert "networkpolicy.networking.k8s.io/" in stored.stdout


@pytest.mark.parametrize("fleet", [*INSTALLABLE, "example"])
def test_every_object_passes_server_side_admission_without_warnings(
    helm: Path, kubectl: Path, kube_apiserver: KubeApiServer, unique: str, fleet: str
) -> None:
    """kubectl apply --dry-run=server --warnings-as-errors accepts every object, hooks included.

    Pod Security only warns for StatefulSets and Deployments; warnings as errors make a
    non-restricted pod template fail here.
    """
    namespace = _restricted_namespace(kubectl, kube_apiserver, f"lb-{unique}")
    values = EXAMPLE if fleet == "example" else FLEETS / f"{fleet}.yaml"
    extra = EXAMPLE_BROKER if fleet == "example" else ()
    manifests = run_helm(
        helm,
        "template",
        "rel",
        str(CHART),
        "-f",
        str(values),
        *extra,
        "--namespace",
        namespace,
        "--kube-version",
        KUBE_TARGET,
    )
    result = _kubectl(
        kubectl,
        kube_apiserver,
        "apply",
        "--dry-run=server",
        "--warnings-as-errors",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=manifests,
    )
    assert result.returncode == 0, result.stderr
    fleet_name = {"minimal": "mini", "existing-secrets": "ops", "example": "claims"}[fleet]
    assert f"job.batch/{fleet_name}-setup created (server dry run)" in result.stdout
    assert "statefulset.apps/" in result.stdout


def test_admission_refuses_a_privileged_pod_template(
    kubectl: Path, kube_apiserver: KubeApiServer, unique: str
) -> None:
    """The check is not vacuous: a StatefulSet running as root fails with warnings as errors."""
    namespace = _restricted_namespace(kubectl, kube_apiserver, f"lb-{unique}")
    statefulset = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "root", "namespace": namespace},
        "spec": {
            "serviceName": "root",
            "selector": {"matchLabels": {"app": "root"}},
            "template": {
                "metadata": {"labels": {"app": "root"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }
    result = _kubectl(
        kubectl,
        kube_apiserver,
        "apply",
        "--dry-run=server",
        "--warnings-as-errors",
        "-f",
        "-",
        stdin=json.dumps(statefulset),
    )
    assert result.returncode != 0
    assert "restricted" in result.stderr


def _secret_data(kubectl: Path, server: KubeApiServer, namespace: str, name: str) -> str:
    result = _kubectl(
        kubectl, server, "get", "secret", name, "-n", namespace, "-o", "jsonpath={.data}"
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_upgrading_one_agent_keeps_every_key_and_rolls_only_that_agent(
    helm: Path, kubectl: Path, kube_apiserver: KubeApiServer, unique: str, tmp_path: Path
) -> None:
    """helm upgrade with a new agent version is accepted, keeps the generated keys and the
    operator token (lookup), and changes only that agent's StatefulSet template."""
    namespace = _restricted_namespace(kubectl, kube_apiserver, f"lb-{unique}")
    fleet = (FLEETS / "existing-secrets.yaml").read_text()
    # Generated secrets this time: drop the existingSecret references.
    fleet = fleet.split("kubernetes:")[0]
    first, second = tmp_path / "v1.yaml", tmp_path / "v2.yaml"
    first.write_text(fleet)
    second.write_text(
        fleet.replace('version: "2.0"\n  - name: notifier', 'version: "2.1"\n  - name: notifier')
    )
    assert first.read_text() != second.read_text()
    common = ["rel", str(CHART), "--namespace", namespace, "--no-hooks"]

    def templates() -> dict[str, str]:
        names = ("ops-agent-triage", "ops-agent-notifier", "ops-registry")
        return {
            n: _kubectl(
                kubectl,
                kube_apiserver,
                "get",
                "statefulset",
                n,
                "-n",
                namespace,
                "-o",
                "jsonpath={.spec.template}",
            ).stdout
            for n in names
        }

    run_helm(helm, "install", *common, "-f", str(first), kubeconfig=kube_apiserver.kubeconfig)
    keys = {
        name: _secret_data(kubectl, kube_apiserver, namespace, name)
        for name in ("ops-agent-triage-key", "ops-agent-notifier-key", "ops-operator-token")
    }
    before = templates()
    assert all(before.values()), before
    run_helm(helm, "upgrade", *common, "-f", str(second), kubeconfig=kube_apiserver.kubeconfig)
    after = templates()
    for name, data in keys.items():
        assert _secret_data(kubectl, kube_apiserver, namespace, name) == data, name
    assert before["ops-agent-triage"] != after["ops-agent-triage"]
    assert before["ops-agent-notifier"] == after["ops-agent-notifier"]
    assert before["ops-registry"] == after["ops-registry"]
