"""The peers' servers on loopback (Temporal's dev server, Postgres) and peak RSS from /proc."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.peers._install import library_path
from longboat.devinfra import free_port

__all__ = ["Server", "peak_rss_mb", "postgres_server", "temporal_server", "tree"]


@dataclass(frozen=True, slots=True)
class Server:
    """A running server: its address and process."""

    address: str
    pid: int


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants that are alive now."""
    found, pending = [], [pid]
    while pending:
        each = pending.pop()
        try:
            children = Path(f"/proc/{each}/task/{each}/children").read_text().split()
        except OSError:
            continue
        found.append(each)
        pending.extend(int(child) for child in children)
    return found


def peak_rss_mb(pid: int) -> float:
    """The summed peak RSS (VmHWM) of ``pid`` and its descendants, in MB (0 when gone).

    Pages shared between processes (Postgres's shared buffers) count once per process.
    """
    total_kb = 0
    for each in tree(pid):
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


def _wait_port(port: int, process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}; see {log}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within 120 s; see {log}")


def _stop(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def temporal_server(binary: Path, home: Path, *, in_memory: bool) -> Iterator[Server]:
    """``temporal server start-dev``, headless, its state in SQLite: in memory or in a file."""
    port = free_port()
    log = home / "temporal-server.log"
    argv = [str(binary), "server", "start-dev", "--headless", "--ip", "127.0.0.1"]
    argv += ["--port", str(port)]
    if not in_memory:
        argv += ["--db-filename", str(home / "temporal.db")]
    argv += ["--metrics-port", str(free_port()), "--http-port", str(free_port())]
    argv += ["--log-level", "error"]
    with log.open("ab") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_port(port, process, log, "temporal server start-dev")
        yield Server(f"127.0.0.1:{port}", process.pid)
    finally:
        _stop(process, signal.SIGTERM)


@contextmanager
def postgres_server(bin_dir: Path) -> Iterator[Server]:
    """A throwaway Postgres (default settings) on a free loopback port.

    Postgres refuses to run as root: as root, it runs as ``nobody`` with its folder chowned.
    """
    folder = Path(tempfile.mkdtemp(prefix="longboat-peers-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "nobody", "nogroup")
        as_user = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    env = {**os.environ, "LD_LIBRARY_PATH": library_path(bin_dir)}
    data, log, port = folder / "data", folder / "postgres.log", free_port()
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
    subprocess.run([*as_user, *initdb], env=env, check=True, capture_output=True)
    argv = [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(folder)]
    argv += ["-c", "listen_addresses=127.0.0.1"]
    with log.open("ab") as out:
        process = subprocess.Popen([*as_user, *argv], env=env, stdout=out, stderr=out)
    try:
        _wait_port(port, process, log, "postgres")
        yield Server(f"postgresql://postgres@127.0.0.1:{port}/peer_dbos", process.pid)
    finally:
        _stop(process, signal.SIGINT)  # Postgres's fast shutdown
        shutil.rmtree(folder, ignore_errors=True)
