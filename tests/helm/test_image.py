"""The container image, built for real with buildah (chroot isolation, vfs storage) on a Debian
base made by debootstrap, and smoke-tested: the CLI as uid 10001, and the registry component
serving against the session's real Kafka.

Docker Hub is out of reach here, so the base is Debian bookworm's own Python 3.11 (what
python:3.11-slim-bookworm is built on) and the OPA stage is the provisioned opa binary; the
Dockerfile is otherwise built as written. Needs root, buildah and debootstrap (apt-get install
buildah debootstrap); missing, the tests skip locally and fail under CI=true.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from longboat.devinfra import free_port, provision_opa
from tests.conftest import REPO, _unavailable

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

SUITE = "bookworm"
TAG = "localhost/longboat:test"


@dataclass(frozen=True)
class Buildah:
    """buildah with the test's own storage (never the machine's default image store)."""

    binary: str
    root: Path
    runroot: Path

    def __call__(self, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
        """Run buildah; raise with its output when it fails."""
        command = [
            self.binary, "--storage-driver", "vfs", "--root", str(self.root),
            "--runroot", str(self.runroot), *args,
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise AssertionError(f"buildah {' '.join(args[:2])} failed:\n{result.stderr[-3000:]}")
        return result


def _base_rootfs(cache: Path, debootstrap: str) -> Path:
    """A Debian minbase with Python 3.11 as a tarball, made once per machine."""
    tarball = cache / f"image-base-{SUITE}" / "rootfs.tar"
    if tarball.exists():
        return tarball
    work = cache / f"image-base-{SUITE}" / "rootfs"
    shutil.rmtree(work, ignore_errors=True)
    subprocess.run(
        [debootstrap, "--variant=minbase", "--include=python3,python3-venv,ca-certificates",
         SUITE, str(work), "http://deb.debian.org/debian"],
        check=True, capture_output=True, timeout=1200,
    )  # fmt: skip
    subprocess.run(["tar", "-C", str(work), "-cf", str(tarball), "."], check=True)
    shutil.rmtree(work)
    return tarball


def _context(folder: Path, files: dict[str, Path], containerfile: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        shutil.copy(source, folder / name)
    (folder / "Containerfile").write_text(containerfile)
    return folder


@pytest.fixture(scope="session")
def image(infra_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Buildah]:
    """The Longboat image built from the repository's Dockerfile."""
    binary, debootstrap = shutil.which("buildah"), shutil.which("debootstrap")
    if binary is None or debootstrap is None or os.geteuid() != 0:
        _unavailable("building the image needs root, buildah and debootstrap")
    work = tmp_path_factory.mktemp("image")
    buildah = Buildah(binary, infra_cache / "buildah-storage", work / "run")
    tarball = _base_rootfs(infra_cache, debootstrap)
    base = _context(work / "base", {"rootfs.tar": tarball}, "FROM scratch\nADD rootfs.tar /\n")
    buildah("bud", "--isolation", "chroot", "-t", f"localhost/longboat-base:{SUITE}", str(base))
    opa = _context(
        work / "opa", {"opa": provision_opa(infra_cache)}, "FROM scratch\nCOPY opa /opa\n"
    )
    buildah("bud", "--isolation", "chroot", "-t", "localhost/opa:static", str(opa))
    secret = []
    ca = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE")
    if ca:  # a TLS-intercepting proxy's CA, passed as the Dockerfile documents
        secret = ["--secret", f"id=pip-ca,src={ca}"]
    buildah(
        "bud", "--isolation", "chroot", *secret,
        "--build-arg", f"PYTHON_IMAGE=localhost/longboat-base:{SUITE}",
        "--build-arg", "OPA_IMAGE=localhost/opa:static",
        "-f", str(REPO / "Dockerfile"), "-t", TAG, str(REPO),
    )  # fmt: skip
    yield buildah
    buildah("rmi", "--all", "--force")


@pytest.fixture
def container(image: Buildah) -> Iterator[str]:
    """A working container of the image (removed afterwards)."""
    name = image("from", TAG).stdout.strip()
    yield name
    image("rm", name)


def test_the_image_runs_the_cli_as_uid_10001_in_app(image: Buildah, container: str) -> None:
    """The image's user is 10001, its working directory /app, and `longboat` is the entrypoint."""
    config = image("inspect", "--format", "{{.OCIv1.Config.User}} {{.OCIv1.Config.WorkingDir}}",
                   TAG).stdout.split()  # fmt: skip
    assert config == ["10001:10001", "/app"]
    probe = "import os, longboat.agents, examples; print(os.getuid(), os.getcwd())"
    run = image("run", "--isolation", "chroot", "--user", "10001:10001", container, "--",
                "python", "-c", probe)  # fmt: skip
    assert run.stdout.split() == ["10001", "/app"]
    version = image("run", "--isolation", "chroot", container, "--", "longboat", "--version")
    assert "0.1.0" in version.stdout


def test_the_image_can_trace(image: Buildah, container: str) -> None:
    """The image carries the `otel` extra: OTEL_* variables switch tracing on in a pod."""
    probe = (
        "from longboat import configure_tracing, tracing_enabled;"
        "print(configure_tracing('longboat-probe'), tracing_enabled())"
    )
    env = ["--env", "OTEL_TRACES_EXPORTER=otlp"]
    run = image("run", "--isolation", "chroot", "--user", "10001:10001", *env, container, "--",
                "python", "-c", probe)  # fmt: skip
    assert run.stdout.split()[-2:] == ["True", "True"], run.stdout + run.stderr


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def test_the_registry_serves_from_the_image_against_real_kafka(
    image: Buildah, container: str, kafka_bootstrap: str, unique: str
) -> None:
    """`longboat topics create` and `longboat run registry` work inside the image on real Kafka."""
    env = [
        "--env", f"LONGBOAT_KAFKA__BOOTSTRAP_SERVERS={kafka_bootstrap}",
        "--env", f"LONGBOAT_TOPIC_PREFIX=img{unique}.",
        "--env", "LONGBOAT_OPERATOR_TOKEN=" + "t" * 32,
    ]  # fmt: skip
    run = ["run", "--isolation", "chroot", "--user", "10001:10001", *env, container, "--"]
    image(*run, "longboat", "topics", "create", "--partitions", "1", "--replication-factor", "1")
    port = free_port()
    server = subprocess.Popen(
        [image.binary, "--storage-driver", "vfs", "--root", str(image.root), "--runroot",
         str(image.runroot), *run, "longboat", "run", "registry", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not _ready(f"http://127.0.0.1:{port}/readyz"):
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            assert time.monotonic() < deadline, "the registry in the image never became ready"
            time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=60)
