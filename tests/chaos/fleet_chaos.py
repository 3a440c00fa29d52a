"""``make chaos``: the example claims fleet on the real stack, under faults, checked afterwards.

    python -m tests.chaos.fleet_chaos [--workflows N] [--kills K] [--seed S] [--deadline-min M]
                                      [--rate R] [--json FILE] [--keep]

Brings up its own broker (a temporary dev home on free ports: it never meets a developer's
stack or the test session's broker) and the fleet of ``examples/claims/fleet.yaml`` with a
chaos variant of the claim workflow (a 1 s cool-off and retries on the payout, see
:func:`chaos_workflow`). It publishes N claims at R per second — one in twenty over the
approval limit, approved through the coordinator's API as each asks — plus a moderation post
every 20 claims, and on a seeded schedule SIGKILLs fleet processes (some in pairs), restarts
the broker, stops OPA for 10 s and publishes a policy. Then it waits for the fleet to finish
(bounded by the deadline), reads the topics and the payout ledger file, prints the table of
faults, invariants and recovery times (``tests/chaos/chaos_report.py``) and exits 1 on any
violation. Not a test module itself: ``tests/chaos/test_fleet_chaos.py`` runs a small one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from longboat import KafkaSettings, TopicNames, load_settings
from longboat.devinfra import DevPorts, DevStack, cache_dir, free_port
from longboat.errors import LongboatError
from longboat.fleet import FleetPaths, read_state
from tests.chaos.chaos_faults import Injector, plan_faults
from tests.chaos.chaos_report import evaluate, render
from tests.chaos.chaos_run import Publisher, Watcher
from tests.chaos.chaos_topics import gather

REPO = Path(__file__).resolve().parents[2]
FLEET = REPO / "examples" / "claims" / "fleet.yaml"
WORKFLOW = REPO / "examples" / "claims" / "workflows" / "claim-intake.yaml"
LONGBOAT = str(Path(sys.executable).with_name("longboat"))
PREFIX = "chaos."
STARTED = time.monotonic()


def say(line: str) -> None:
    """One progress line, with the time since the run started."""
    show(f"[{time.monotonic() - STARTED:7.1f}s] {line}")


def show(text: str) -> None:
    """Write ``text`` to stdout now (the run is watched live)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


RIDE_OUT = {"max_attempts": 8, "backoff_s": 2, "multiplier": 1.5}  # about a minute of faults


def chaos_workflow(into: Path) -> Path:
    """The claim workflow with a 1 s cool-off (volume) and every task retried.

    A task whose agent could not reach the policy engine while OPA was stopped (a payout
    refused fail-closed, a model call through the gateway answered 503 until the step's own
    retries ran out) fails; the workflow's retry hands it out again as a new attempt once the
    engine answers, so no claim is lost to the fault. This is the configuration a fleet that
    must ride out a policy-engine outage runs with (docs/chaos.md).
    """
    definition: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    for step in definition["steps"]:
        if step["id"] == "cool-off":
            step["timer"] = {"seconds": 1}
        for task in [step, *step.get("parallel", [])]:
            if "task" in task:
                task["retry"] = dict(RIDE_OUT)
    into.mkdir(parents=True, exist_ok=True)
    file = into / "claim-intake.yaml"
    file.write_text(yaml.safe_dump(definition, sort_keys=False))
    return into


RATE_LIMIT_PER_MINUTE = 6000  # per agent; room for catching up after a fault at 10 claims/s


def chaos_fleet(tmp: Path, bootstrap: str) -> Path:
    """The example fleet file on our broker, own prefix, free ports, the chaos workflow."""
    fleet: dict[str, Any] = yaml.safe_load(FLEET.read_text())
    fleet["root"] = str(REPO)
    fleet["kafka"] |= {"bootstrapServers": bootstrap, "topicPrefix": PREFIX}
    fleet["registry"] = {"port": free_port()}
    # Each claim costs triage two gateway calls (its model call, its memory write): at the run's
    # 10 claims/s the example's 600 requests per agent per minute (a demo's) would answer 429.
    fleet["gateway"] |= {
        "port": free_port(),
        "opa": {"port": free_port()},
        "rateLimitPerMinute": RATE_LIMIT_PER_MINUTE,
    }
    fleet["coordinator"] = {"port": free_port()}
    fleet["workflows"] = [str(chaos_workflow(tmp / "workflows"))]
    file = tmp / "fleet.yaml"
    file.write_text(yaml.safe_dump(fleet, sort_keys=False))
    return file


def _cli(env: dict[str, str], *args: str, timeout: float = 600) -> str:
    result = subprocess.run(
        [LONGBOAT, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        shown = " ".join(args)
        raise SystemExit(f"chaos: `longboat {shown}` failed:\n{result.stdout}{result.stderr}")
    return result.stdout


async def run_chaos(args: argparse.Namespace, tmp: Path, env: dict[str, str]) -> int:
    """Set up, inject, wait, check; returns the exit code."""
    deadline = STARTED + args.deadline_min * 60
    home = Path(env["LONGBOAT_DEV_HOME"])
    ports = DevPorts(kafka=free_port(), controller=free_port(), opa=free_port())
    stack = DevStack(home).up(ports=ports)
    say(f"broker {stack.bootstrap_servers} (own dev home {home})")
    file = chaos_fleet(tmp, stack.bootstrap_servers)
    paths = FleetPaths(home, "claims")
    payout_file = paths.dir / "payouts.jsonl"
    env["CLAIMS_PAYOUTS_FILE"] = str(payout_file)
    say("fleet up (registry, gateway + OPA, coordinator, six agents) ...")
    _cli(env, "fleet", "up", "-f", str(file), "--detach")
    state = read_state(paths)
    assert state is not None
    say(f"fleet ready; Mission Control {state.coordinator_url}")
    kafka = KafkaSettings(bootstrap_servers=stack.bootstrap_servers)
    names = TopicNames(PREFIX)
    span_s = args.workflows / args.rate
    plan = plan_faults(seed=args.seed, kills=args.kills, span_s=span_s, opa_stop_s=args.opa_stop_s)
    injector = Injector(
        home=home,
        paths=paths,
        ports=ports,
        policies=REPO / "policies",
        seed=args.seed,
        opa_stop_s=args.opa_stop_s,
    )
    rng = random.Random(args.seed)
    publisher = Publisher(kafka, tag=f"s{args.seed}", count=args.workflows, rng=rng)
    watcher = Watcher(kafka, names, paths, set(publisher.claims))
    say(f"publishing {args.workflows} claims at {args.rate}/s; {len(plan)} faults planned")
    async with asyncio.TaskGroup() as group:
        watching = group.create_task(watcher.run(deadline, say))
        await asyncio.gather(
            publisher.run(rate=args.rate, deadline=deadline, say=say),
            _inject(injector, plan, deadline),
        )
        say("publishing and faults done; waiting for the fleet to finish the claims")
        await watcher.until_done(deadline)
        watching.cancel()
    say(f"finished {watcher.finished} of {args.workflows}; reading the topics (read_committed)")
    final = read_state(paths)
    given_up = [c.instance for c in final.children if c.status == "failed"] if final else []
    evidence = await gather(kafka, names, payout_file)
    report = evaluate(evidence, injector.log, publisher.claims, given_up=given_up)
    show(render(report))
    if args.json:
        body = {**report.to_json(), "faults_log": injector.log.to_json(), "args": vars(args)}
        await asyncio.to_thread(Path(args.json).write_text, json.dumps(body, indent=2, default=str))
    return 0 if report.ok else 1


async def _inject(injector: Injector, plan: list[Any], deadline: float) -> None:
    began = time.monotonic()
    for fault in plan:
        wait = began + fault.at_s - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        if time.monotonic() > deadline:
            injector.log.problems.append(f"{fault.kind} at {fault.at_s:.0f}s: past the deadline")
            continue
        say(f"fault: {fault.kind}{' x2 (simultaneous)' if fault.width > 1 else ''}")
        try:
            await asyncio.to_thread(injector.carry_out, fault)
        except LongboatError as e:  # e.g. the broker did not come back: reported, not raised
            injector.log.problems.append(f"{fault.kind}: {e}")
            say(f"fault {fault.kind} failed: {e}")


def _teardown(env: dict[str, str], tmp: Path, *, keep: bool) -> None:
    fleet = tmp / "fleet.yaml"
    if fleet.exists():
        subprocess.run(
            [LONGBOAT, "fleet", "down", "-f", str(fleet)],
            env=env,
            capture_output=True,
            timeout=180,
            check=False,
        )
    DevStack(Path(env["LONGBOAT_DEV_HOME"])).down(wipe=not keep)
    if not keep:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        show(f"kept {tmp} (logs under home/fleets/claims/logs)")


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.fleet_chaos", description=__doc__)
    parser.add_argument("--workflows", type=int, default=10_000, help="claims to publish")
    parser.add_argument("--kills", type=int, default=24, help="SIGKILLs of fleet processes")
    parser.add_argument("--seed", type=int, default=1, help="seed of the fault schedule")
    parser.add_argument("--deadline-min", type=float, default=25.0, help="bound of the run")
    parser.add_argument("--rate", type=float, default=10.0, help="claims published per second")
    parser.add_argument("--opa-stop-s", type=float, default=10.0, help="OPA SIGSTOP length")
    parser.add_argument("--json", help="also write the report as JSON to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir and its logs")
    args = parser.parse_args(argv)
    if args.workflows < 1 or args.rate <= 0 or args.kills < 0 or args.deadline_min <= 0:
        parser.error("--workflows, --rate and --deadline-min must be positive, --kills >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the chaos run; the exit code is 1 on any violation."""
    args = parse(argv)
    # aiokafka logs every failed reconnect while the broker restarts: expected here, not news.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    tmp = Path(tempfile.mkdtemp(prefix="longboat-chaos-"))
    # The developer's cache (jars, OPA): a fresh dev home must not provision them again.
    cache = cache_dir(load_settings().dev_home.resolve())
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGBOAT_")}
    env["LONGBOAT_CACHE_DIR"] = os.environ["LONGBOAT_CACHE_DIR"] = str(cache.resolve())
    env["LONGBOAT_DEV_HOME"] = str(tmp / "home")
    os.environ["LONGBOAT_DEV_HOME"] = env["LONGBOAT_DEV_HOME"]  # DevStack here, same home
    try:
        return asyncio.run(run_chaos(args, tmp, env))
    finally:
        _teardown(env, tmp, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
