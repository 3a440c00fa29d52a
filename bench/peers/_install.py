"""Each peer installed into its own environment under the git-ignored cache, never the project's.

DBOS and Temporal's SDK: a ``python3 -m venv`` each, pinned versions from PyPI. The ``temporal``
CLI (its dev server): built from the Go module proxy at a version whose go.mod has no
``replace`` directive (``go install`` refuses those). Postgres: Debian's packages, downloaded
and unpacked into the cache, not installed on the system. Each is skipped when already there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

__all__ = [
    "DBOS_PINS",
    "TEMPORAL_CLI",
    "TEMPORAL_PINS",
    "PeerInstallError",
    "library_path",
    "peer_python",
    "postgres_bin",
    "temporal_cli",
]

DBOS_PINS = ("dbos==3.4.0", "confluent-kafka==2.16.1")
TEMPORAL_PINS = ("temporalio==1.35.0", "aiokafka==0.14.0")
# v1.5.1 is the newest release whose go.mod has no replace directive (v1.9.1 has one).
TEMPORAL_CLI = "github.com/temporalio/cli/cmd/temporal@v1.5.1"
POSTGRES_DEBS = ("postgresql-15", "postgresql-client-15", "libpq5")
POSTGRES_BIN = Path("usr/lib/postgresql/15/bin")
_PINS_FILE = ".peers-pins"


class PeerInstallError(RuntimeError):
    """A peer could not be installed; the message says what to install or fix."""


def _run(
    argv: list[str], *, what: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=cwd, env=env)
    except FileNotFoundError as e:
        raise PeerInstallError(f"{what}: {argv[0]} is not installed ({e})") from e
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise PeerInstallError(f"{what} failed ({' '.join(argv[:3])} ...):\n" + "\n".join(tail))


def peer_python(cache: Path, name: str, pins: tuple[str, ...]) -> Path:
    """The interpreter of ``<cache>/peers/<name>-venv`` with ``pins`` installed."""
    venv = cache / "peers" / f"{name}-venv"
    python = venv / "bin" / "python"
    stamp = venv / _PINS_FILE
    wanted = "\n".join(pins)
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"installing {', '.join(pins)} into {venv}", flush=True)
    _run(["python3", "-m", "venv", str(venv)], what=f"{name} venv")
    _run([str(python), "-m", "pip", "install", "--quiet", *pins], what=f"{name} install")
    stamp.write_text(wanted)
    return python


def temporal_cli(cache: Path) -> Path:
    """The ``temporal`` binary, built with ``go install`` into ``<cache>/peers/bin`` if missing."""
    bin_dir = cache / "peers" / "bin"
    binary = bin_dir / "temporal"
    if binary.exists():
        return binary
    if shutil.which("go") is None:
        raise PeerInstallError("the temporal CLI is built from source: install Go (>= 1.25)")
    print(f"building {TEMPORAL_CLI} (several minutes, once)", flush=True)
    env = {**os.environ, "GOBIN": str(bin_dir), "GOFLAGS": "-mod=mod"}
    _run(["nice", "go", "install", TEMPORAL_CLI], what="temporal CLI build", env=env)
    return binary


def postgres_bin(cache: Path) -> Path:
    """Postgres's bin folder, from Debian's packages unpacked under ``<cache>/peers/postgres``."""
    root = cache / "peers" / "postgres"
    bin_dir = root / POSTGRES_BIN
    if not (bin_dir / "postgres").exists():
        if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
            raise PeerInstallError("Postgres comes from Debian's packages: apt-get is needed")
        debs = cache / "peers" / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        print(f"downloading {', '.join(POSTGRES_DEBS)} into {debs}", flush=True)
        _run(["apt-get", "download", *POSTGRES_DEBS], what="apt-get download", cwd=debs)
        for deb in sorted(debs.glob("*.deb")):
            _run(["dpkg-deb", "-x", str(deb), str(root)], what=f"unpacking {deb.name}")
    _check_libraries(bin_dir / "postgres", root)
    return bin_dir


def library_path(bin_dir: Path) -> str:
    """``LD_LIBRARY_PATH`` for the unpacked Postgres (its libpq lives beside it)."""
    return str(bin_dir.parents[3] / "lib" / "x86_64-linux-gnu")


def _check_libraries(binary: Path, root: Path) -> None:
    env = {**os.environ, "LD_LIBRARY_PATH": library_path(binary.parent)}
    done = subprocess.run(
        ["ldd", str(binary)], capture_output=True, text=True, env=env, check=False
    )
    missing = [line.split()[0] for line in done.stdout.splitlines() if "not found" in line]
    if missing:
        raise PeerInstallError(
            f"postgres under {root} needs {', '.join(missing)}: apt-get install the Debian "
            "packages that provide them"
        )
