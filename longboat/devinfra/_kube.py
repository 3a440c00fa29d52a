"""Helm, etcd and a real kube-apiserver for the chart's tests, built from the Go module proxy.

Nothing here runs pods (no container runtime, no controller-manager): the API server only
validates and admits what the chart renders, with its own schemas and Pod Security admission.
kube-apiserver and etcd refuse ``go install`` (their go.mod files have ``replace`` lines), so each
is built from a small wrapper module committed in the repository (``tests/helm/tools/``).
"""

from __future__ import annotations

import base64
import secrets
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from longboat.devinfra._process import spawn, wait_until
from longboat.devinfra._tools import build_with_go

__all__ = [
    "ETCD_MARKER",
    "ETCD_VERSION",
    "HELM_VERSION",
    "KUBE_APISERVER_MARKER",
    "KUBE_VERSION",
    "EtcdNode",
    "KubeApiServer",
    "provision_etcd",
    "provision_helm",
    "provision_kube",
    "start_etcd",
    "start_kube_apiserver",
]

HELM_VERSION = "v3.22.0"
KUBE_VERSION = "v1.37.2"
ETCD_VERSION = "v3.7.3"
ETCD_MARKER = "etcd"
KUBE_APISERVER_MARKER = "kube-apiserver"


def provision_helm(cache: Path) -> Path:
    """Build ``helm`` into ``cache/helm-<version>/helm`` once (``go install``); returns its path."""
    folder = build_with_go(
        cache,
        f"helm-{HELM_VERSION}",
        ["helm"],
        lambda _: ["install", f"helm.sh/helm/v3/cmd/helm@{HELM_VERSION}"],
        what=f"building helm {HELM_VERSION} with go install",
    )
    return folder / "helm"


def _version_flags() -> str:
    """Linker flags that stamp the version; without them the server reports v0.0.0-master."""
    major, minor = KUBE_VERSION.removeprefix("v").split(".")[:2]
    stamps = []
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        stamps += [
            f"-X {package}.gitVersion={KUBE_VERSION}",
            f"-X {package}.gitMajor={major}",
            f"-X {package}.gitMinor={minor}",
        ]
    return " ".join(["-s", "-w", *stamps])


def provision_kube(cache: Path, module: Path) -> tuple[Path, Path]:
    """Build ``kube-apiserver`` and ``kubectl`` into ``cache/kube-<version>/`` once.

    Args:
        cache: The provisioning cache (``LONGBOAT_CACHE_DIR``).
        module: The wrapper Go module (``tests/helm/tools/kube``).

    Returns:
        The paths of kube-apiserver and kubectl.
    """
    names = ["kube-apiserver", "kubectl"]
    folder = build_with_go(
        cache,
        f"kube-{KUBE_VERSION}",
        names,
        lambda out: [
            "-C",  # build inside the wrapper module (go >= 1.20)
            str(module),
            "build",
            "-ldflags",
            _version_flags(),
            "-o",
            out + "/",
            *(f"k8s.io/kubernetes/cmd/{name}" for name in names),
        ],
        what=f"building kube-apiserver and kubectl {KUBE_VERSION} (4-8 min cold, 2.5 GB RAM)",
    )
    return folder / "kube-apiserver", folder / "kubectl"


def provision_etcd(cache: Path, module: Path) -> Path:
    """Build ``etcd`` into ``cache/etcd-<version>/etcd`` once from the wrapper ``module``."""
    folder = build_with_go(
        cache,
        f"etcd-{ETCD_VERSION}",
        ["etcd"],
        lambda out: ["-C", str(module), "build", "-o", out + "/etcd", "go.etcd.io/etcd/server/v3"],
        what=f"building etcd {ETCD_VERSION}",
    )
    return folder / "etcd"


@dataclass(frozen=True, slots=True)
class EtcdNode:
    """A started etcd: its pid, client URL and log."""

    pid: int
    url: str
    log: Path


def start_etcd(
    binary: Path, data: Path, *, client_port: int, peer_port: int, timeout_s: float = 60.0
) -> EtcdNode:
    """Start a throwaway etcd on loopback (no fsync: test data only)."""
    url = f"http://127.0.0.1:{client_port}"
    peer = f"http://127.0.0.1:{peer_port}"
    log = data / "etcd.log"
    data.mkdir(parents=True, exist_ok=True)
    pid = spawn(
        [
            str(binary),
            f"--data-dir={data / 'member'}",
            f"--listen-client-urls={url}",
            f"--advertise-client-urls={url}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=default={peer}",
            "--unsafe-no-fsync",
            "--log-level=warn",
        ],
        log=log,
    )
    wait_until(
        lambda: _answers(f"{url}/health"), pid=pid, timeout_s=timeout_s, what="etcd", log=log
    )
    return EtcdNode(pid=pid, url=url, log=log)


@dataclass(frozen=True, slots=True)
class KubeApiServer:
    """A started kube-apiserver: its pid, URL, admin token and a kubeconfig for it."""

    pid: int
    url: str
    token: str
    kubeconfig: Path
    log: Path


def _write_service_account_keys(folder: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private, public = folder / "sa.key", folder / "sa.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def _kubeconfig(path: Path, *, url: str, token: str, ca: Path) -> Path:
    ca_data = base64.b64encode(ca.read_bytes()).decode()
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: test\n  cluster:\n    server: {url}\n"
        f"    certificate-authority-data: {ca_data}\n"
        f"users:\n- name: admin\n  user:\n    token: {token}\n"
        "contexts:\n- name: test\n  context: {cluster: test, user: admin}\n"
        "current-context: test\n"
    )
    path.chmod(0o600)
    return path


def start_kube_apiserver(
    binary: Path, workdir: Path, *, etcd_url: str, port: int, timeout_s: float = 120.0
) -> KubeApiServer:
    """Start kube-apiserver on loopback against ``etcd_url``; ready when ``/readyz`` answers.

    Authentication is one static admin token (group system:masters); RBAC is on, as in a cluster.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    certs = workdir / "certs"
    certs.mkdir(exist_ok=True)
    sa_key, sa_pub = _write_service_account_keys(workdir)
    token = secrets.token_hex(16)
    tokens = workdir / "tokens.csv"
    tokens.write_text(f"{token},admin,admin-uid,system:masters\n")
    log = workdir / "kube-apiserver.log"
    url = f"https://127.0.0.1:{port}"
    pid = spawn(
        [
            str(binary),
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={port}",
            f"--cert-dir={certs}",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--endpoint-reconciler-type=none",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={sa_pub}",
            f"--service-account-signing-key-file={sa_key}",
            f"--token-auth-file={tokens}",
            "--authorization-mode=RBAC",
        ],
        log=log,
    )
    wait_until(
        lambda: _answers(f"{url}/readyz", token=token),
        pid=pid,
        timeout_s=timeout_s,
        what="kube-apiserver",
        log=log,
    )
    # The self-signed serving certificate appears in cert-dir once the server listens.
    kubeconfig = _kubeconfig(
        workdir / "kubeconfig", url=url, token=token, ca=certs / "apiserver.crt"
    )
    return KubeApiServer(pid=pid, url=url, token=token, kubeconfig=kubeconfig, log=log)


def _answers(url: str, *, token: str | None = None) -> bool:
    """Whether ``url`` answers 200 (TLS unverified: a loopback server with a self-signed cert)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(url)  # noqa: S310 - loopback URL built here
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=2, context=context) as response:  # noqa: S310
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False
