"""The three-step workflow against instances x partitions; approval resume under load.

1. Throughput: N coordinator processes (``longboat run coordinator``) and N processes of each of
   the three echo specialists (``longboat run agent bench.specialists:stepa`` ...), every topic
   with P partitions (P in 1, 2, 4; N <= P). W workflows are published up front; workflows/s
   from the first publish to the last completed state committed (``lb.workflows.state``,
   read_committed), and each workflow's trigger → completed time (p50/p99: with W published at
   once this is mostly queueing).
2. Approval resume on the 1 x 1 fleet: G workflows wait at an approval gate; each is approved
   through the coordinator's API (``POST /v1/workflows/{id}/signals``), one every 100 ms, and
   the time from the request to the workflow's next task committed on ``lb.tasks.stepb`` is
   measured: at rest, then while ungated workflows arrive at a share (``--load``, default 40 %)
   of the 1 x 1 throughput.
3. Baseline in the same run: the raw aiokafka exactly-once loop on one partition.

The grid runs ``--rounds`` times (3); each figure is the median of its rounds, with the range.

Figures go to stdout; ``--json FILE`` writes them; ``--charts DIR`` draws PNG charts.

    python -m bench.workflow_scaling [--workflows 1000] [--rounds 3] [--quick] [--charts DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._broker import bench_broker, machine_line
from bench._wf_fleet import Fleet, Watch
from bench.coordinator_bench import FLOW, workflow_topics
from bench.scaling import _raw
from longboat import Envelope, EnvelopeSerde, KafkaSettings, configure_logging
from longboat.coordinator import CoordinatorClient, SignalData
from longboat.kafka import Producer

# The background load during the approvals, as a share of the 1 x 1 throughput measured with
# every workflow published at once. A paced stream batches less than that burst: on a shared
# 2-core machine 70 % outran the single coordinator (its backlog grew without bound) and 50 %
# was at the edge (90/s offered, 78/s completed); 40 % is sustained.
LOAD_SHARE = 0.4
GAP_S = 0.1  # one approval every 100 ms: approvals never queue behind each other
EVENTS_PER_WORKFLOW = 4  # coordinator events: started + three results


async def _trigger(
    kafka: KafkaSettings, topic: str, ids: list[str], *, gate: bool
) -> dict[str, float]:
    """Publish one trigger per id; the time each was queued."""
    serde = EnvelopeSerde()
    sent: dict[str, float] = {}
    async with Producer(kafka) as producer:
        futures = []
        for workflow in ids:
            encoded = serde.encode(
                Envelope(type="bench.start", source="/bench", data={"id": workflow, "gate": gate})
            )
            sent[workflow] = time.perf_counter()
            futures.append(
                await producer.enqueue(
                    topic, encoded.value, key=workflow.encode(), headers=encoded.headers
                )
            )
        await asyncio.gather(*futures)
    return sent


async def _throughput(
    kafka: KafkaSettings, topic: str, watch: Watch, tag: str, n: int
) -> tuple[float, list[float]]:
    ids = [f"{tag}-{i}" for i in range(n)]
    sent = await _trigger(kafka, topic, ids, gate=False)
    finished = await watch.wait("completed", ids)
    latencies = [watch.reached["completed"][w] - sent[w] for w in ids]
    return n / (finished - min(sent.values())), latencies


async def _approve(api: str, token: str, watch: Watch, ids: list[str]) -> list[float]:
    """Approve each of ``ids`` through the API, one at a time; request → next task committed."""
    latencies = []
    async with CoordinatorClient(api, operator_token=token) as client:
        for workflow in ids:
            started = time.perf_counter()
            await client.signal(workflow, SignalData(signal="approve", by="bench"))
            try:
                seen = await watch.wait("task", [workflow], timeout_s=120)
            except RuntimeError as e:
                raise RuntimeError(
                    f"{e}: is the load more than the fleet sustains? (--load)"
                ) from e
            latencies.append(seen - started)
            await asyncio.sleep(GAP_S)
    return latencies


async def _paced(kafka: KafkaSettings, topic: str, rate: float, sent: dict[str, float]) -> None:
    """Publish ungated triggers at ``rate`` per second until cancelled (``sent``: when each)."""
    serde = EnvelopeSerde()
    async with Producer(kafka, linger_ms=0) as producer:
        started = time.monotonic()
        while True:
            workflow = f"load-{len(sent)}"
            encoded = serde.encode(
                Envelope(type="bench.start", source="/bench", data={"id": workflow, "gate": False})
            )
            await producer.enqueue(
                topic, encoded.value, key=workflow.encode(), headers=encoded.headers
            )
            sent[workflow] = time.perf_counter()
            # On schedule from the start: a slow send does not lower the offered rate.
            await asyncio.sleep(max(0.0, started + len(sent) / rate - time.monotonic()))


async def _under_load(
    kafka: KafkaSettings, topic: str, fleet: Fleet, watch: Watch, ids: list[str], rate: float
) -> dict[str, float]:
    """Approvals while ungated workflows arrive at ``rate``; and how the load fared meanwhile."""
    sent: dict[str, float] = {}
    loading = asyncio.create_task(_paced(kafka, topic, rate, sent))
    await asyncio.sleep(3)  # the load reaches its steady state first
    done = watch.reached.setdefault("completed", {})
    before, first = sum(1 for w in sent if w in done), len(sent)
    started = time.monotonic()
    latencies = await _approve(fleet.api, fleet.token, watch, ids)
    window = time.monotonic() - started
    loading.cancel()
    await asyncio.gather(loading, return_exceptions=True)
    # The load's own trigger → completed, of the workflows sent during the approvals.
    flows = [done[w] - t for w, t in list(sent.items())[first:] if w in done]
    return {
        "p50_ms": _ms(latencies, 0.5),
        "p99_ms": _ms(latencies, 0.99),
        "load_offered_per_s": rate,
        "load_completed_per_s": (sum(1 for w in sent if w in done) - before) / window,
        "load_p50_ms": _ms(flows, 0.5) if flows else float("nan"),
    }


async def _measure(
    servers: str, parts: int, instances: int, n: int, approvals: int, share: float
) -> dict[str, Any]:
    kafka = KafkaSettings(bootstrap_servers=servers)
    names, topic = await workflow_topics(kafka, "s", partitions=parts)
    result: dict[str, Any] = {"partitions": parts, "instances": instances}
    with (
        tempfile.TemporaryDirectory(prefix="longboat-wfscale-") as folder,
        tempfile.TemporaryDirectory(prefix="longboat-wfscale-logs-") as logs,
    ):
        (Path(folder) / "bench.yaml").write_text(FLOW.format(topic=topic))
        with Fleet(servers, names, Path(folder), instances, logs=Path(logs)) as fleet:
            await fleet.ready()
            async with Watch(kafka, names, parts) as watch:
                warm = [f"warm-{i}" for i in range(8 * parts)]  # every partition, likely
                await _trigger(kafka, topic, warm, gate=False)
                await watch.wait("completed", warm)
                rate, latencies = await _throughput(kafka, topic, watch, "w", n)
                result.update(workflows_per_s=rate, p50_ms=_ms(latencies, 0.5))
                result["p99_ms"] = _ms(latencies, 0.99)
                if approvals:
                    gated = [f"g-{i}" for i in range(2 * approvals)]
                    await _trigger(kafka, topic, gated, gate=True)
                    await watch.wait("waiting_approval", gated)
                    rest = await _approve(fleet.api, fleet.token, watch, gated[:approvals])
                    load = share * rate
                    loaded = await _under_load(kafka, topic, fleet, watch, gated[approvals:], load)
                    result["approval"] = {
                        "at_rest": [_ms(rest, 0.5), _ms(rest, 0.99)],
                        "under_load": [loaded.pop("p50_ms"), loaded.pop("p99_ms")],
                        **loaded,
                    }
    return result


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if q == 0.5:
        return statistics.median(ordered) * 1000
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000


def _charts(results: dict[str, Any], folder: Path) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no charts (make bench installs it)", file=sys.stderr)
        return []
    folder.mkdir(parents=True, exist_ok=True)
    grid = results["workflows"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    for parts in sorted({g["partitions"] for g in grid}):
        row = [g for g in grid if g["partitions"] == parts]
        x = [g["instances"] for g in row]
        label = f"{parts} partition(s)"
        y = [g["workflows_per_s"] for g in row]
        spread = [
            [m - g["low"] for m, g in zip(y, row, strict=True)],
            [g["high"] - m for m, g in zip(y, row, strict=True)],
        ]
        drawn = left.errorbar(x, y, yerr=spread, marker="o", capsize=3, label=label)
        color = drawn.lines[0].get_color()
        right.plot(x, [g["p50_ms"] for g in row], marker="o", color=color, label=label)
        right.plot(x, [g["p99_ms"] for g in row], marker="x", linestyle=":", color=color)
    # The baseline as a note, not a line: at ~1,000 "workflows"/s it would flatten the chart.
    raw = results["raw_records_per_s"]
    left.set_title(f"Workflows/s, median and range (raw EOS loop: {raw:,.0f} rec/s)", fontsize=9)
    left.set(xlabel="instances of each process", ylabel="workflows/s", xticks=[1, 2, 4])
    left.set_ylim(bottom=0)
    left.legend(fontsize=7)
    right.set_title("Trigger → completed, all published at once (o p50, x p99)", fontsize=9)
    right.set(xlabel="instances of each process", ylabel="ms", xticks=[1, 2, 4])
    right.set_ylim(bottom=0)
    right.legend(fontsize=7)
    figure.tight_layout()
    throughput = folder / "scaling-workflows.png"
    figure.savefig(throughput, dpi=110)
    plt.close(figure)

    approval = results["approval"]
    figure, axis = plt.subplots(figsize=(6, 3.6))
    labels = ("at rest", f"under {approval['load_offered_per_s']:.0f} workflows/s")
    for offset, (q, name) in enumerate(((0, "p50"), (1, "p99"))):
        values = [approval["at_rest"][q], approval["under_load"][q]]
        axis.bar([i + offset * 0.4 for i in range(2)], values, width=0.4, label=name)
    axis.set_xticks([0.2, 1.2], labels)
    axis.set(ylabel="ms", title="Approval (API) → next task committed, 1 x 1")
    axis.legend()
    figure.tight_layout()
    resume = folder / "scaling-approval.png"
    figure.savefig(resume, dpi=110)
    plt.close(figure)
    return [throughput, resume]


def _line(g: dict[str, Any], raw: float) -> str:
    events = g["workflows_per_s"] * EVENTS_PER_WORKFLOW
    spread = f" (range {g['low']:,.1f} to {g['high']:,.1f})" if "low" in g else ""
    return (
        f"three-step workflows, {g['partitions']} partition(s) x {g['instances']} instance(s): "
        f"{g['workflows_per_s']:,.1f} workflows/s{spread} ({events / raw:.2f} of raw in "
        f"coordinator events), trigger → completed p50 {g['p50_ms']:,.0f} ms, "
        f"p99 {g['p99_ms']:,.0f} ms"
    )


def _medians(runs: list[dict[str, Any]], grid: tuple[tuple[int, int], ...]) -> list[dict[str, Any]]:
    """Per grid point: the median of its rounds (and the range of workflows/s)."""
    summary = []
    for parts, instances in grid:
        mine = [r for r in runs if (r["partitions"], r["instances"]) == (parts, instances)]
        rates = [r["workflows_per_s"] for r in mine]
        summary.append(
            {
                "partitions": parts,
                "instances": instances,
                "workflows_per_s": statistics.median(rates),
                "low": min(rates),
                "high": max(rates),
                "p50_ms": statistics.median(r["p50_ms"] for r in mine),
                "p99_ms": statistics.median(r["p99_ms"] for r in mine),
            }
        )
    return summary


def _print_approval(a: dict[str, Any], approvals: int) -> None:
    print(
        f"approval resume (API request → next task committed), 1 x 1, {approvals} "
        f"each: at rest p50 {a['at_rest'][0]:.0f} ms, p99 {a['at_rest'][1]:.0f} ms; "
        f"under load ({a['load_offered_per_s']:.0f} workflows/s offered, "
        f"{a['load_completed_per_s']:.0f}/s completed meanwhile, their trigger → "
        f"completed p50 {a['load_p50_ms']:.0f} ms) "
        f"p50 {a['under_load'][0]:.0f} ms, p99 {a['under_load'][1]:.0f} ms"
    )


def main() -> None:
    """Run every measurement, print it, optionally write JSON and charts."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workflows", type=int, default=1000)
    parser.add_argument("--approvals", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3, help="the grid this often; medians")
    parser.add_argument("--load", type=float, default=LOAD_SHARE, help="share of 1 x 1 capacity")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--charts", type=Path)
    args = parser.parse_args()
    if not 0 < args.load <= 1 or min(args.workflows, args.approvals, args.rounds) < 1:
        parser.error("--load must be in (0, 1]; --workflows, --approvals, --rounds at least 1")
    configure_logging(level="warning", fmt="json", stream=open(os.devnull, "w"))  # noqa: SIM115
    n, approvals, rounds = (
        (100, 10, 1) if args.quick else (args.workflows, args.approvals, args.rounds)
    )
    grid = (
        ((1, 1), (2, 2), (4, 4)) if args.quick else ((1, 1), (2, 1), (2, 2), (4, 1), (4, 2), (4, 4))
    )
    results: dict[str, Any] = {"machine": machine_line(), "date": time.strftime("%Y-%m-%d")}
    print(f"# workflow scaling — {results['machine']}")
    began = time.monotonic()
    with bench_broker() as servers:
        raw = _raw(servers, 4000 if not args.quick else 1000)
        results["raw_records_per_s"] = raw
        print(f"raw aiokafka EOS loop, 1 partition: {raw:,.0f} records/s")
        runs: list[dict[str, Any]] = []
        # Whole rounds, not repeats in a row: a burst of other work on a shared machine then
        # costs one point of each round instead of every repeat of one configuration.
        for round_ in range(rounds):
            for parts, instances in grid:
                first = round_ == 0 and parts == instances == 1
                g = asyncio.run(
                    _measure(servers, parts, instances, n, approvals if first else 0, args.load)
                )
                runs.append(g)
                print(f"round {round_ + 1}: {_line(g, raw)}")
                if first:
                    results["approval"] = g.pop("approval")
                    _print_approval(results["approval"], approvals)
    results["runs"] = runs
    results["workflows"] = _medians(runs, grid)
    print(f"# median of {rounds} round(s)")
    for g in results["workflows"]:
        print(_line(g, raw))
    results["seconds"] = time.monotonic() - began
    print(f"total: {results['seconds']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.charts:
        for path in _charts(results, args.charts):
            print(f"chart: {path}")


if __name__ == "__main__":
    main()
