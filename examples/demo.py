"""`make demo`: the governed claims fleet at work, on `longboat fleet up`.

Starts (or re-uses) the fleet of ``examples/claims/fleet.yaml`` — separate processes with their
own identities, a gateway and OPA — then publishes a stream of generated claims and content
posts and shows, as they happen: workflows completing, a note with an IBAN refused by the
gateway, payouts through the governed ``payments`` tool (once each), a large claim waiting in
Mission Control until it is approved there (the same HTTP call as its button), and the
moderation agent's verdicts before and after a moderation rule is changed with
``longboat policy publish`` (the agent keeps running). It ends with a summary table.

    python -m examples.demo [--fleet FILE] [--down]

Without ``--down`` the fleet keeps running (``longboat fleet down -f FILE`` stops it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from examples.claims.payments import payouts
from examples.demo_watch import FleetView, Observed, Stream, make_stream, payouts_file
from longboat import Envelope, EnvelopeSerde, load_settings
from longboat.fleet import FleetPaths, load_fleet, read_state, supervisor_alive
from longboat.kafka import Producer

REPO = Path(__file__).resolve().parents[1]
FLEET = REPO / "examples" / "claims" / "fleet.yaml"
LONGBOAT = str(Path(sys.executable).with_name("longboat"))
STARTED = time.monotonic()


def say(line: str) -> None:
    """One progress line, with the time since the demo started."""
    print(f"[{time.monotonic() - STARTED:6.1f}s] {line}", flush=True)


def run_cli(*args: str, env: dict[str, str] | None = None) -> str:
    """Run the ``longboat`` CLI; its output is shown; a failure ends the demo with it."""
    result = subprocess.run([LONGBOAT, *args], env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(
            f"demo: `longboat {' '.join(args)}` failed:\n{result.stdout}{result.stderr}"
        )
    return result.stdout


def start_fleet(file: Path, paths: FleetPaths) -> bool:
    """``longboat fleet up --detach``, or re-use the fleet if it already runs (returns False)."""
    state = read_state(paths)
    if state is not None and state.phase == "ready" and supervisor_alive(state):
        say(f"fleet {state.name} already runs (supervisor {state.supervisor_pid}): re-using it")
        return False
    env = {**os.environ, "CLAIMS_PAYOUTS_FILE": str(payouts_file(paths))}
    say(f"starting the fleet: longboat fleet up -f {_shown(file)} --detach")
    for line in run_cli("fleet", "up", "-f", str(file), "--detach", env=env).splitlines():
        print(f"           {line}", flush=True)
    return True


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def publish_policies(view: FleetView, folder: Path) -> str:
    """``longboat policy publish FOLDER`` against the fleet's Kafka; returns the digest."""
    env = {
        **os.environ,
        "LONGBOAT_KAFKA__BOOTSTRAP_SERVERS": view.kafka.bootstrap_servers,
        "LONGBOAT_TOPIC_PREFIX": view.names.prefix,
    }
    out = run_cli("policy", "publish", str(folder), env=env)
    return out.split()[2]  # "published longboat sha256:... (n modules)"


def stricter_policies(source: Path, into: Path) -> Path:
    """A copy of the policies whose moderation rules also block 'crypto'."""
    folder = into / "policies"
    shutil.copytree(source, folder)
    data_file = folder / "longboat" / "moderation" / "data.json"
    data = json.loads(data_file.read_text())
    data["rules"]["block_words"].append("crypto")
    data_file.write_text(json.dumps(data, indent=2) + "\n")
    return folder


async def publish(
    producer: Producer, topic: str, key: str, kind: str, data: dict[str, object]
) -> None:
    """One event on one of the fleet's input topics."""
    encoded = EnvelopeSerde().encode(Envelope(type=kind, source="/demo", data=data))  # type: ignore[arg-type]
    await producer.send(topic, encoded.value, key=key.encode(), headers=encoded.headers)


async def drive(view: FleetView, stream: Stream, root: Path) -> Observed:
    """Publish the stream, approve the large claim, change the policy, watch to the end."""
    seen = Observed()
    async with Producer(view.kafka) as producer:
        for claim in stream.claims:
            await publish(
                producer, "claims.submitted", claim["claim_id"], "claims.submitted", claim
            )
            say(f"claim {claim['claim_id']} submitted ({claim['amount']:.2f} EUR)")
        for post in stream.posts_before:
            await publish(producer, "content.posted", post["post_id"], "content.posted", post)
        say(f"{len(stream.posts_before)} posts published on content.posted")
        await view.watch(
            stream,
            seen,
            until=lambda: seen.claims_done(stream) and seen.verdicts_for(stream.posts_before),
            say=say,
        )
        with tempfile.TemporaryDirectory() as tmp:
            folder = stricter_policies(root / "policies", Path(tmp))
            say("changing a moderation rule: 'crypto' is now a blocked word (policy data only)")
            digest = publish_policies(view, folder)
            say(f"longboat policy publish: {digest[:19]}…; waiting for the gateway to load it")
            await view.until_gateway_runs(digest)
        say("the gateway decides with the new rules; the moderator was not restarted")
        for post in stream.posts_after:
            await publish(producer, "content.posted", post["post_id"], "content.posted", post)
        say(f"{len(stream.posts_after)} more posts published")
        await view.watch(stream, seen, until=lambda: seen.verdicts_for(stream.posts_after), say=say)
    return seen


def summary(
    stream: Stream, seen: Observed, view: FleetView, pids: tuple[int | None, int | None]
) -> None:
    """The closing table."""
    before = Counter(seen.verdicts[p["post_id"]] for p in stream.posts_before)
    after = Counter(seen.verdicts[p["post_id"]] for p in stream.posts_after)
    paid = payouts(view.payouts_file)
    ours = [p for p in paid if p["claim"] in stream.claim_ids]

    def mix(counts: Counter[str]) -> str:
        return ", ".join(f"{k} {counts[k]}" for k in ("allow", "flag", "block"))

    rows = [
        ("claims completed", f"{seen.completed_count(stream)} of {len(stream.claims)}"),
        ("approvals (Mission Control)", f"{len(seen.approved)} ({', '.join(seen.approved)})"),
        ("PII notes refused", f"{len(seen.denials)} ({'; '.join(seen.denial_reasons)})"),
        ("payouts / ledger entries", f"{len(ours)} / {len(seen.ledger)} (one per claim)"),
        ("moderation before change", mix(before)),
        ("moderation after change", mix(after)),
        ("moderator pid before/after", f"{pids[0]} / {pids[1]} (no restart)"),
    ]
    width = max(len(k) for k, _ in rows)
    print("\n" + "─" * (width + 48))
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    print("─" * (width + 48))
    print(f"Mission Control: {view.coordinator_url}/")


async def main(argv: list[str] | None = None) -> None:
    """Run the demo."""
    parser = argparse.ArgumentParser(prog="python -m examples.demo", description=__doc__)
    parser.add_argument("--fleet", type=Path, default=FLEET, help="the fleet file")
    parser.add_argument("--down", action="store_true", help="stop the fleet at the end")
    parser.add_argument("--tag", default=uuid.uuid4().hex[:6], help="suffix of claim/post ids")
    args = parser.parse_args(argv)
    file: Path = args.fleet.resolve()
    fleet = load_fleet(file)
    paths = FleetPaths(load_settings().dev_home.resolve(), fleet.name)
    started = start_fleet(file, paths)
    view = FleetView.of(paths)
    say(f"Mission Control: {view.coordinator_url}/")
    moderator = view.pids.get("moderator")
    if not started:
        # A re-used fleet may still run the last demo's changed rules: start from the shipped.
        await view.until_gateway_runs(publish_policies(view, view.root / "policies"))
    stream = make_stream(args.tag)
    try:
        seen = await drive(view, stream, view.root)
        summary(stream, seen, view, (moderator, FleetView.of(paths).pids.get("moderator")))
    finally:
        if args.down:
            run_cli("fleet", "down", "-f", str(file))
            say("fleet stopped")
    if not args.down:
        print(f"The fleet keeps running; stop it with: longboat fleet down -f {_shown(file)}")


if __name__ == "__main__":
    asyncio.run(main())
