"""Fixtures of the chart tests: helm, a renderer, and a real kube-apiserver (etcd + API server).

The binaries are built from the Go module proxy by ``make provision`` (``python -m
tests.helm.provision``); here they are only looked up, so a cold build never runs under a test
timeout. Missing tools skip the tests locally and fail them under ``CI=true``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from longboat.devinfra import free_port, stop_process
from longboat.devinfra._kube import (
    ETCD_MARKER,
    ETCD_VERSION,
    HELM_VERSION,
    KUBE_APISERVER_MARKER,
    KUBE_VERSION,
    KubeApiServer,
    start_etcd,
    start_kube_apiserver,
)
from longboat.errors import InfraError
from tests.conftest import _unavailable

CHART = Path(__file__).resolve().parents[2] / "helm" / "longboat"
FLEETS = Path(__file__).resolve().parent / "fleets"
# A go-installed helm assumes Kubernetes 1.20 unless told otherwise.
KUBE_TARGET = "1.37.0"

Manifest = dict[str, Any]
Render = Callable[..., list[Manifest]]


def _binary(path: Path, what: str) -> Path:
    if not path.exists():
        _unavailable(f"{what} is not built at {path}: run `make provision`")
    return path


@pytest.fixture(scope="session")
def helm(infra_cache: Path) -> Path:
    """The helm binary built by ``make provision``."""
    return _binary(infra_cache / f"helm-{HELM_VERSION}" / "helm", "helm")


@pytest.fixture(scope="session")
def kubectl(infra_cache: Path) -> Path:
    """The kubectl binary built by ``make provision``."""
    return _binary(infra_cache / f"kube-{KUBE_VERSION}" / "kubectl", "kubectl")


def run_helm(helm: Path, *args: str, kubeconfig: Path | None = None) -> str:
    """Run helm; on failure raise with its stderr (the message a user would see)."""
    env_args = ["--kubeconfig", str(kubeconfig)] if kubeconfig else []
    result = subprocess.run(
        [str(helm), *args, *env_args], capture_output=True, text=True, check=False, timeout=120
    )
    if result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


@pytest.fixture
def render(helm: Path, tmp_path: Path) -> Render:
    """Render the chart for a fleet file (a path or a values dict) into its manifests."""

    def _render(fleet: Path | Manifest, *extra: str) -> list[Manifest]:
        if isinstance(fleet, dict):
            path = tmp_path / f"fleet-{len(list(tmp_path.iterdir()))}.yaml"
            path.write_text(yaml.safe_dump(fleet))
            fleet = path
        text = run_helm(
            helm,
            "template",
            "rel",
            str(CHART),
            "-f",
            str(fleet),
            "--kube-version",
            KUBE_TARGET,
            *extra,
        )
        return [doc for doc in yaml.safe_load_all(text) if doc]

    return _render


def load_fleet(name: str) -> Manifest:
    """A fleet fixture from tests/helm/fleets as a dict."""
    fleet: Manifest = yaml.safe_load((FLEETS / f"{name}.yaml").read_text())
    return fleet


@pytest.fixture(scope="session")
def kube_apiserver(
    infra_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KubeApiServer]:
    """A real kube-apiserver on a throwaway etcd (no nodes, no controllers: admission only)."""
    etcd_binary = _binary(infra_cache / f"etcd-{ETCD_VERSION}" / "etcd", "etcd")
    apiserver = _binary(infra_cache / f"kube-{KUBE_VERSION}" / "kube-apiserver", "kube-apiserver")
    work = tmp_path_factory.mktemp("kube")
    try:
        etcd = start_etcd(
            etcd_binary, work / "etcd", client_port=free_port(), peer_port=free_port()
        )
    except InfraError as e:
        _unavailable(str(e))
    try:
        server = start_kube_apiserver(
            apiserver, work / "apiserver", etcd_url=etcd.url, port=free_port()
        )
    except InfraError as e:
        stop_process(etcd.pid, ETCD_MARKER)
        _unavailable(str(e))
    yield server
    stop_process(server.pid, KUBE_APISERVER_MARKER)
    stop_process(etcd.pid, ETCD_MARKER)
