"""Longboat beside DBOS Transact and Temporal on one workload, in one run on one broker.

Every system consumes the same events from a topic on the same Kafka broker, runs three
durable steps (one appends the event id to a sink file) and produces an output record
(bench/peers/workload.py). Measured from outside each system's worker process (_measure.py):
per-step overhead, event → output latency at low load, throughput of a backlog, restart after
SIGKILL, duplicates, peak RSS. Each peer is installed into its own environment under the
cache (_install.py); Longboat runs as ``longboat run agent`` with default settings.

    python -m bench.peers [--events 5000] [--only dbos-sqlite,dbos-postgres,temporal]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench._broker import REPO, bench_broker, machine_line
from bench.peers import _install
from bench.peers._measure import Worker, full_load, low_load, restart
from bench.peers._servers import Server, peak_rss_mb, postgres_server, temporal_server
from bench.peers._stats import percentile, ratio
from longboat import KafkaSettings
from longboat.devinfra import cache_dir

PEERS = ("dbos-sqlite", "dbos-postgres", "temporal", "temporal-file")
# (label, key, unit, lower is better)
ROWS = (
    ("per-step overhead p50", "step_p50", "ms", True),
    ("per-step overhead p99", "step_p99", "ms", True),
    ("event → output p50", "e2e_p50", "ms", True),
    ("event → output p99", "e2e_p99", "ms", True),
    ("  of which event → first step p50", "pickup_p50", "ms", True),
    ("  of which last step → output p50", "finish_p50", "ms", True),
    ("throughput (backlog)", "rate", "ev/s", False),
    ("restart → first output", "first_s", "s", True),
    ("restart → all outputs", "all_s", "s", True),
    ("duplicate side effects", "dup_side", "", True),
    ("duplicate outputs", "dup_out", "", True),
    ("missing outputs", "missing", "", True),
    ("peak RSS, worker", "rss", "MB", True),
    ("peak RSS, server", "server_rss", "MB", True),
)
Figures = dict[str, float]


@contextmanager
def _system(name: str, cache: Path, home: Path) -> Iterator[tuple[Worker, Server | None]]:
    """The worker command of ``name``, with its server running for as long as it is needed."""
    if name == "longboat":
        longboat = str(Path(sys.executable).parent / "longboat")
        argv = [longboat, "run", "agent", "bench.peers.longboat_app:agent"]
        env = {"LONGBOAT_TOPIC_PREFIX": "{prefix}", "LONGBOAT_AGENT__HTTP_PORT": "0"}
        env |= {"LONGBOAT_KAFKA__BOOTSTRAP_SERVERS": "{bootstrap}", "LONGBOAT_LOG_LEVEL": "warning"}
        yield Worker([*argv, "--instance", "peers-0"], env), None
    elif name == "dbos-sqlite":
        python = _install.peer_python(cache, "dbos", _install.DBOS_PINS)
        url = f"sqlite:///{home / 'dbos.sqlite'}"
        yield Worker([str(python), "-m", "bench.peers.dbos_app"], {"PEER_DB_URL": url}), None
    elif name == "dbos-postgres":
        python = _install.peer_python(cache, "dbos", _install.DBOS_PINS)
        with postgres_server(_install.postgres_bin(cache)) as server:
            env = {"PEER_DB_URL": server.address}
            yield Worker([str(python), "-m", "bench.peers.dbos_app"], env), server
    else:
        python = _install.peer_python(cache, "temporal", _install.TEMPORAL_PINS)
        binary = _install.temporal_cli(cache)
        with temporal_server(binary, home, in_memory=name == "temporal") as server:
            env = {"PEER_TEMPORAL": server.address}
            yield Worker([str(python), "-m", "bench.peers.temporal_app"], env), server


def _measure(kafka: KafkaSettings, worker: Worker, args: argparse.Namespace) -> Figures:
    low = asyncio.run(low_load(kafka, worker, events=args.latency_events, rate=args.rate))
    full = asyncio.run(full_load(kafka, worker, events=args.events))
    back = asyncio.run(restart(kafka, worker, events=args.restart_events))
    return {
        "step_p50": statistics.median(low.steps) * 1000,
        "step_p99": percentile(low.steps, 0.99) * 1000,
        "e2e_p50": statistics.median(low.latencies) * 1000,
        "e2e_p99": percentile(low.latencies, 0.99) * 1000,
        "pickup_p50": statistics.median(low.pickup) * 1000,
        "finish_p50": statistics.median(low.finish) * 1000,
        "rate": full.rate,
        "first_s": back.first_s,
        "all_s": back.all_s,
        "dup_side": back.duplicates.side_effects,
        "dup_out": back.duplicates.outputs,
        "missing": back.duplicates.missing,
        "rss": max(low.rss_mb, full.rss_mb),
    }


def _cell(figures: Figures | None, key: str, base: Figures, lower: bool) -> str:
    if figures is None or key not in figures:
        return "failed" if figures is None else "-"
    value = figures[key]
    text = f"{value:,.1f}" if value < 100 and value != int(value) else f"{value:,.0f}"
    if figures is base or key not in base or key.startswith(("dup", "missing")):
        return text
    return f"{text} ({ratio(value, base[key]) if lower else ratio(base[key], value)})"


def _table(results: dict[str, Figures | None]) -> str:
    base = results["longboat"] or {}
    names = list(results)
    lines = [
        "| | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for label, key, unit, lower in ROWS:
        cells = [_cell(results[name], key, base, lower) for name in names]
        lines.append(f"| {label}{f' ({unit})' if unit else ''} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    """Install what is missing, run every system through the phases, print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000, help="the full-load backlog")
    parser.add_argument("--latency-events", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="low-load events/s")
    parser.add_argument("--restart-events", type=int, default=2000)
    parser.add_argument(
        "--only", default=",".join(PEERS[:3]), help=f"peers beside Longboat ({', '.join(PEERS)})"
    )
    args = parser.parse_args()
    # A SIGTERM unwinds like Ctrl-C: the servers and the broker started here are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(only) - set(PEERS))
    if unknown:
        parser.error(f"--only: unknown {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    cache = cache_dir(REPO / ".longboat")
    results: dict[str, Figures | None] = {}
    with bench_broker() as servers, tempfile.TemporaryDirectory(prefix="lb-peers-") as home:
        kafka = KafkaSettings(bootstrap_servers=servers)
        for name in ["longboat", *only]:
            print(f"# {name}", flush=True)
            results[name] = _run_one(name, kafka, cache, Path(home), args)
    print(f"\n# peers — {machine_line()}")
    print(
        f"# {args.events} backlog, {args.latency_events} at {args.rate:g}/s, "
        f"restart of {args.restart_events}; (Nx) = how many times Longboat's figure is better"
    )
    print(_table(results))


def _run_one(
    name: str, kafka: KafkaSettings, cache: Path, home: Path, args: argparse.Namespace
) -> Figures | None:
    try:
        with ExitStack() as stack:
            worker, server = stack.enter_context(_system(name, cache, home))
            figures = _measure(kafka, worker, args)
            if server is not None:
                figures["server_rss"] = peak_rss_mb(server.pid)
            print("  " + ", ".join(f"{k} {v:,.1f}" for k, v in figures.items()), flush=True)
            return figures
    except (_install.PeerInstallError, TimeoutError, RuntimeError, OSError) as e:
        print(f"  {name} failed: {e}", flush=True)
        return None


if __name__ == "__main__":
    main()
