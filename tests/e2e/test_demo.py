"""`make demo`'s script on the real stack: the governed moments, asserted from topics and sinks."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from longboat import Envelope, EnvelopeSerde, KafkaSettings, TopicNames
from longboat.coordinator import history_entry_of
from longboat.devinfra import free_port
from longboat.gateway import DECISION_RECORDS, LEDGER_ENTRIES, MEMORY_AUDITS
from longboat.kafka import read_decoded, read_to_end

REPO = Path(__file__).resolve().parents[2]
FLEET = (REPO / "examples" / "claims" / "fleet.yaml").read_text()
LONGBOAT = str(Path(sys.executable).with_name("longboat"))


def _fleet_file(tmp_path: Path, bootstrap: str, prefix: str) -> Path:
    """The demo's fleet file on the session broker, with free ports and its own prefix."""
    text = FLEET.replace("root: ../..", f"root: {REPO}").replace(
        'bootstrapServers: ""', f'bootstrapServers: "{bootstrap}"\n  topicPrefix: {prefix}'
    )
    ports = (
        f"registry: {{port: {free_port()}}}\n"
        f"gateway: {{port: {free_port()}, opa: {{port: {free_port()}}}}}\n"
        f"coordinator: {{port: {free_port()}}}\n"
    )
    file = tmp_path / "fleet.yaml"
    file.write_text(text.replace("policies: policies", ports + "policies: policies"))
    return file


async def _read(kafka: KafkaSettings, topic: str) -> list[tuple[bytes | None, Envelope]]:
    serde = EnvelopeSerde()
    return [
        (raw.key, serde.decode(raw.value, raw.headers)) async for raw in read_to_end(kafka, topic)
    ]


def test_demo_shows_the_governed_moments(
    cli_env: dict[str, str], kafka_bootstrap: str, unique: str, tmp_path: Path
) -> None:
    """PII refused, each payout once, the large claim approved, verdicts change, same moderator."""
    prefix, tag = f"demo{unique}.", unique[:8]
    file = _fleet_file(tmp_path, kafka_bootstrap, prefix)
    home = Path(cli_env["LONGBOAT_DEV_HOME"])
    try:
        result = subprocess.run(
            [sys.executable, "-m", "examples.demo", "--fleet", str(file), "--tag", tag],
            env=cli_env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=420,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        state = json.loads((home / "fleets" / "claims" / "state.json").read_text())
        moderator = next(c for c in state["children"] if c["agent"] == "moderator")
    finally:
        subprocess.run(
            [LONGBOAT, "fleet", "down", "-f", str(file)], env=cli_env, timeout=120, check=False
        )
    # The moderator never restarted, and the pid the demo saw before the change is the same.
    assert moderator["restarts"] == 0
    assert f"{moderator['pid']} / {moderator['pid']} (no restart)" in result.stdout
    keys = _payout_keys(home / "fleets" / "claims" / "payouts.jsonl", tag)
    asyncio.run(_assert_topics(KafkaSettings(bootstrap_servers=kafka_bootstrap), prefix, tag, keys))


async def _assert_topics(kafka: KafkaSettings, prefix: str, tag: str, keys: set[str]) -> None:
    names = TopicNames(prefix)
    # Each payout is in the gateway's tool ledger: ledger entries = payouts.
    ledger = [r.value async for r in read_decoded(kafka, names.tools_ledger, LEDGER_ENTRIES)]
    assert {e.key for e in ledger if e is not None and e.key in keys} == keys
    claims = [f"claim-{tag}-{i}" for i in range(1, 5)]
    # The PII write: a deny with the iban reason, and no memory record or audit for that claim.
    decisions = [r.value async for r in read_decoded(kafka, names.decisions, DECISION_RECORDS)]
    denied = [
        d
        for d in decisions
        if d is not None and d.input.action == "memory.write" and not d.decision.allow
    ]
    assert [(d.input.context.workflow_id, d.decision.reasons) for d in denied] == [
        (claims[2], ["bank claims is not classified for iban"])
    ]
    audits = [r.value async for r in read_decoded(kafka, names.memory_audit, MEMORY_AUDITS)]
    audited = {a.key for a in audits if a is not None}
    assert {claims[0], claims[1]} <= audited
    assert claims[2] not in audited
    # The large claim waited for the approval signal and completed only after it.
    events = [
        e for key, e in await _read(kafka, names.workflows_history) if key == claims[1].encode()
    ]
    history = [entry.type for e in events if (entry := history_entry_of(e)) is not None]
    assert history.index("ApprovalRequested") < history.index("SignalReceived")
    assert history.index("SignalReceived") < history.index("WorkflowCompleted")
    # Verdicts of the same posts before and after the policy publish.
    verdicts: dict[str, object] = {}
    for _, event in await _read(kafka, "content.moderated"):
        if isinstance(event.data, dict) and str(event.data.get("post_id")).startswith(
            f"post-{tag}-"
        ):
            verdicts[str(event.data["post_id"])] = event.data.get("verdict")
    assert [verdicts[f"post-{tag}-{i}"] for i in range(1, 11)] == [
        *("allow", "allow", "flag", "allow", "block"),
        *("allow", "allow", "flag", "block", "block"),
    ]


def _payout_keys(file: Path, tag: str) -> set[str]:
    """One payout per claim in the payout ledger file; their idempotency keys."""
    paid = [json.loads(line) for line in file.read_text().splitlines()]
    ours = [p for p in paid if p["claim"].startswith(f"claim-{tag}-")]
    assert sorted(p["claim"] for p in ours) == [f"claim-{tag}-{i}" for i in range(1, 5)]
    keys = {str(p["idempotency_key"]) for p in ours}
    assert len(keys) == 4
    return keys
