"""What `make demo` publishes and how it watches the fleet: the coordinator's HTTP API, the
decision log, the tool ledger, the moderation verdicts and the payout ledger file."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from examples.claims.payments import payouts
from longboat import EnvelopeSerde, KafkaSettings, TopicNames
from longboat.fleet import FleetPaths, fleet_root, load_fleet, read_state
from longboat.gateway import DECISION_RECORDS, LEDGER_ENTRIES
from longboat.kafka import read_decoded, read_to_end

__all__ = ["FleetView", "Observed", "Stream", "make_stream", "payouts_file"]

Say = Callable[[str], None]
WATCH_TIMEOUT_S = 120

# The moderation mix: one post's verdict depends on the rule the demo changes ("crypto").
POSTS = (
    ("Our new claims portal is live: file a claim in five minutes", "claims-team"),
    ("Great service, the payout arrived the next day", "ana"),
    ("Still waiting... I want a refund or I call my lawyer", "bo"),
    ("Get rich with crypto, DM me for the link", "promo-bot"),
    ("This insurance is a scam, do not trust them", "troll"),
)


@dataclass(frozen=True)
class Stream:
    """The generated claims and posts of one demo run (ids carry the run's tag)."""

    claims: list[dict[str, Any]]
    posts_before: list[dict[str, Any]]
    posts_after: list[dict[str, Any]]

    @property
    def claim_ids(self) -> set[str]:
        """The claim ids of this run."""
        return {c["claim_id"] for c in self.claims}

    @property
    def large(self) -> str:
        """The claim over the automatic limit (it waits for an approval)."""
        return str(next(c["claim_id"] for c in self.claims if c["amount"] > 1000))


def make_stream(tag: str) -> Stream:
    """Four claims (small, large, one whose notes hold an IBAN, small) and two batches of posts."""
    claims = [
        (240.0, "Kitchen tap leak, photos attached"),
        (4800.0, "Roof damage after the storm, contractor quote attached"),
        (310.0, "Please pay the refund to IBAN DE89 3704 0044 0532 0130 00"),
        (95.0, None),
    ]
    return Stream(
        claims=[
            {
                "claim_id": f"claim-{tag}-{i}",
                "amount": amount,
                "policy": "P-778",
                "description": "household claim",
                **({"notes": notes} if notes else {}),
            }
            for i, (amount, notes) in enumerate(claims, start=1)
        ],
        posts_before=[
            {"post_id": f"post-{tag}-{i}", "text": text, "author": author}
            for i, (text, author) in enumerate(POSTS, start=1)
        ],
        posts_after=[
            {"post_id": f"post-{tag}-{i + len(POSTS)}", "text": text, "author": author}
            for i, (text, author) in enumerate(POSTS, start=1)
        ],
    )


def payouts_file(paths: FleetPaths) -> Path:
    """Where the fleet's ``payments`` tool records payouts (``fleet up`` sets it so)."""
    return paths.dir / "payouts.jsonl"


@dataclass
class Observed:
    """What the demo has seen happen so far."""

    statuses: dict[str, str] = field(default_factory=dict)
    waited: set[str] = field(default_factory=set)
    approved: list[str] = field(default_factory=list)
    denials: dict[str, str] = field(default_factory=dict)  # decision id -> workflow id
    denial_reasons: list[str] = field(default_factory=list)
    verdicts: dict[str, str] = field(default_factory=dict)  # post id -> verdict
    paid: set[str] = field(default_factory=set)
    ledger: set[str] = field(default_factory=set)  # ledger keys of this run's payouts

    def completed_count(self, stream: Stream) -> int:
        """How many of the run's claims completed."""
        return sum(self.statuses.get(c) == "completed" for c in stream.claim_ids)

    def claims_done(self, stream: Stream) -> bool:
        """Every claim completed and paid, and its payout is in the tool ledger."""
        done = self.completed_count(stream) == len(stream.claims)
        return done and self.paid == stream.claim_ids and len(self.ledger) == len(self.paid)

    def verdicts_for(self, posts: list[dict[str, Any]]) -> bool:
        """Every post of ``posts`` has its verdict."""
        return all(p["post_id"] in self.verdicts for p in posts)


@dataclass
class FleetView:
    """The running fleet, as the demo reads it."""

    paths: FleetPaths
    kafka: KafkaSettings
    names: TopicNames
    coordinator_url: str
    gateway_url: str
    root: Path
    pids: dict[str, int | None]

    @classmethod
    def of(cls, paths: FleetPaths) -> FleetView:
        """Read the fleet's ``state.json``."""
        state = read_state(paths)
        if state is None:
            raise SystemExit(f"demo: no fleet state in {paths.state}")
        root = fleet_root(load_fleet(Path(state.file)), Path(state.file))
        return cls(
            paths=paths,
            kafka=KafkaSettings(bootstrap_servers=state.bootstrap_servers),
            names=TopicNames(state.topic_prefix),
            coordinator_url=state.coordinator_url,
            gateway_url=state.gateway_url,
            root=root,
            pids={c.agent: c.pid for c in state.children if c.agent},
        )

    @property
    def payouts_file(self) -> Path:
        """The payouts ledger file."""
        return payouts_file(self.paths)

    async def until_gateway_runs(self, digest: str) -> None:
        """Wait until the gateway decides with the bundle ``digest``."""
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession() as session:
            while True:
                async with session.get(f"{self.gateway_url}/v1/policy") as response:
                    body = await response.json() if response.status == 200 else {}
                if body.get("digest") == digest:
                    return
                if time.monotonic() > deadline:
                    raise SystemExit(f"demo: the gateway did not load {digest} within 60 s")
                await asyncio.sleep(0.2)

    async def watch(
        self, stream: Stream, seen: Observed, *, until: Callable[[], bool], say: Say
    ) -> None:
        """Report what happens, approve the large claim, until ``until()`` holds."""
        deadline = time.monotonic() + WATCH_TIMEOUT_S
        # Mission Control answers operators only: the fleet's operator token, as the CLI uses.
        token = self.paths.operator_token.read_text().strip()
        operator = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(headers=operator) as session:
            while not until():
                if time.monotonic() > deadline:
                    raise SystemExit(f"demo: nothing more happened for {WATCH_TIMEOUT_S} s: {seen}")
                await self._workflows(session, stream, seen, say)
                await self._denials(stream, seen, say)
                await self._payouts(stream, seen, say)
                await self._verdicts(stream, seen, say)
                await asyncio.sleep(0.3)

    async def _workflows(
        self, session: aiohttp.ClientSession, stream: Stream, seen: Observed, say: Say
    ) -> None:
        for claim_id in sorted(stream.claim_ids):
            try:
                url = f"{self.coordinator_url}/v1/workflows/{claim_id}"
                async with session.get(url) as response:
                    status = (await response.json())["status"] if response.status == 200 else None
            except aiohttp.ClientError:
                return  # the coordinator is (re)starting: the supervisor brings it back
            if status is None or status == seen.statuses.get(claim_id):
                continue
            seen.statuses[claim_id] = status
            if status == "waiting_approval" and claim_id not in seen.waited:
                seen.waited.add(claim_id)
                say(f"{claim_id} waits for a human in Mission Control ({self.coordinator_url}/)")
                await self._approve(session, claim_id, seen, say)
            elif status in ("completed", "failed", "rejected", "cancelled"):
                say(f"workflow {claim_id} {status}")

    async def _approve(
        self, session: aiohttp.ClientSession, claim_id: str, seen: Observed, say: Say
    ) -> None:
        # The same call Mission Control's Approve button makes.
        signal = {"signal": "approve", "by": "demo-operator", "note": "photos and quote checked"}
        url = f"{self.coordinator_url}/v1/workflows/{claim_id}/signals"
        async with session.post(url, json=signal) as response:
            if response.status != 202:
                raise SystemExit(f"demo: approving {claim_id} answered {response.status}")
        seen.approved.append(claim_id)
        say(f"{claim_id} approved by demo-operator (POST {url})")

    async def _denials(self, stream: Stream, seen: Observed, say: Say) -> None:
        async for record in read_decoded(self.kafka, self.names.decisions, DECISION_RECORDS):
            d = record.value
            if d is None or d.decision.allow or d.decision_id in seen.denials:
                continue
            if d.input.action == "memory.write" and d.input.context.workflow_id in stream.claim_ids:
                seen.denials[d.decision_id] = d.input.context.workflow_id
                seen.denial_reasons.extend(d.decision.reasons)
                say(
                    f"gateway refused {d.input.agent.id}'s note for {d.input.context.workflow_id} "
                    f"in bank {d.input.resource.name}: {'; '.join(d.decision.reasons)} "
                    f"(PII kinds {d.input.context.pii}); the workflow goes on"
                )

    async def _payouts(self, stream: Stream, seen: Observed, say: Say) -> None:
        keys = set()
        for payout in payouts(self.payouts_file):
            if payout["claim"] in stream.claim_ids:
                keys.add(str(payout["idempotency_key"]))
                if payout["claim"] not in seen.paid:
                    seen.paid.add(str(payout["claim"]))
                    say(f"payout {payout['claim']}: {payout['amount']:.2f} EUR (payments tool)")
        async for record in read_decoded(self.kafka, self.names.tools_ledger, LEDGER_ENTRIES):
            if record.value is not None and record.value.key in keys:
                seen.ledger.add(record.value.key)

    async def _verdicts(self, stream: Stream, seen: Observed, say: Say) -> None:
        texts = {p["post_id"]: p["text"] for p in stream.posts_before + stream.posts_after}
        serde = EnvelopeSerde()
        async for raw in read_to_end(self.kafka, "content.moderated"):
            data = serde.decode(raw.value, raw.headers).data
            if not isinstance(data, dict) or data.get("post_id") not in texts:
                continue
            post_id = str(data["post_id"])
            if post_id not in seen.verdicts:
                seen.verdicts[post_id] = str(data.get("verdict"))
                given = data.get("reasons")
                reasons = ", ".join(str(r) for r in given) if isinstance(given, list) else ""
                verdict = seen.verdicts[post_id]
                say(f"moderator: {verdict:<5} {texts[post_id][:44]!r} ({reasons or '-'})")
