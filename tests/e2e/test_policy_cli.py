"""`longboat policy check|test|publish|status`, `run gateway` and `memory audit` end to end."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import urllib.request
from datetime import timedelta
from pathlib import Path

from longboat import KafkaSettings, Settings, TopicNames
from longboat.devinfra import OpaNode, free_port
from longboat.gateway import GatewayClient
from longboat.kafka import Producer
from longboat.registry import Capability, RegistryStore, TokenIssuer, generate_key, public_key_b64
from tests.e2e.conftest import LONGBOAT, RunCli
from tests.helpers import assert_eventually_sync
from tests.integration.gateway.conftest import POLICIES


def _ready(url: str) -> int:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
            return int(response.status)
    except OSError:
        return 0


def test_policy_lifecycle_through_a_running_gateway(
    run_cli: RunCli,
    cli_env: dict[str, str],
    tmp_path: Path,
    unique: str,
    fresh_opa: tuple[OpaNode, Path],
) -> None:
    """Check and test the policies, refuse a broken one, publish, see it run, audit memory."""
    checked = run_cli("policy", "check", str(POLICIES))
    assert checked.returncode == 0, checked.stderr
    tested = run_cli("policy", "test", str(POLICIES))
    assert tested.returncode == 0, tested.stderr
    assert "PASS" in tested.stdout
    coverage = float(tested.stdout.rsplit("coverage:", 1)[1].strip().rstrip("%"))
    assert coverage >= 90

    broken = tmp_path / "broken"
    shutil.copytree(POLICIES, broken)
    (broken / "longboat/gateway.rego").write_text("package longboat.gateway\n\nallow if {\n")
    refused = run_cli("policy", "publish", str(broken))
    assert refused.returncode == 2
    assert "does not compile" in refused.stderr
    assert "gateway.rego" in refused.stderr

    assert run_cli("topics", "create", "--partitions", "1").returncode == 0
    published = run_cli("policy", "publish", str(POLICIES))
    assert published.returncode == 0, published.stderr
    digest = published.stdout.split()[2]

    opa = fresh_opa[0]
    port = free_port()
    env = {**cli_env, "LONGBOAT_OPA_URL": opa.url, "LONGBOAT_GATEWAY__INSTANCE": "gw-e2e"}
    log = (tmp_path / "gateway.log").open("wb")
    process = subprocess.Popen(
        [LONGBOAT, "run", "gateway", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        assert_eventually_sync(
            lambda: _ready(url), lambda s: s == 200, timeout_s=60, what="gateway ready"
        )
        status = assert_eventually_sync(
            lambda: [
                json.loads(line)
                for line in run_cli("policy", "status", "--json").stdout.splitlines()
            ],
            lambda lines: any(line.get("gateway") == "gw-e2e" for line in lines),
            what="gateway status",
        )
        assert {"kind": "bundle", "digest": digest}.items() <= next(
            s for s in status if s["kind"] == "bundle"
        ).items()
        assert next(s for s in status if s.get("gateway") == "gw-e2e")["digest"] == digest

        settings = Settings(
            kafka={"bootstrap_servers": cli_env["LONGBOAT_KAFKA__BOOTSTRAP_SERVERS"]},  # type: ignore[arg-type]
            topic_prefix=cli_env["LONGBOAT_TOPIC_PREFIX"],
        )
        asyncio.run(_remember(settings, url))
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0

    audit = run_cli("memory", "audit", "claims", "--json")
    assert audit.returncode == 0, audit.stderr
    entries = [json.loads(line) for line in audit.stdout.splitlines()]
    assert [(e["op"], e["key"], e["provenance"]["agent"]) for e in entries] == [
        ("put", "c-1", "triage"),
        ("put", "c-1", "triage"),
    ]
    assert entries[1]["previous"] == {"note": "first"}
    assert entries[1]["pii"] == ["email"]
    human = run_cli("memory", "audit", "claims", "--key", "c-1")
    assert "by triage@1.0" in human.stdout


async def _remember(settings: Settings, url: str) -> None:
    key = generate_key()
    names = TopicNames(settings.topic_prefix)
    async with RegistryStore(settings.kafka, names.registry, rotation_grace=timedelta(0)) as store:
        await store.enroll(
            "triage",
            version="1.0",
            public_key=public_key_b64(key),
            capabilities=(Capability.parse("memory:claims"),),
        )
    issuer = TokenIssuer(key, agent_id="triage", version="1.0", instance="cli")
    async with GatewayClient(url, token=issuer.issue) as gw:

        async def put_first() -> bool:
            try:
                await gw.memory_put("claims", "c-1", {"note": "first"})
            except Exception:
                return False
            return True

        for _ in range(100):
            if await put_first():
                break
            await asyncio.sleep(0.1)
        await gw.memory_put("claims", "c-1", {"note": "call jane@example.com"}, workflow_id="wf-1")


async def _write_junk(bootstrap: str, topic: str) -> None:
    junk = [b"not json {", b'{"kind": "bundle"}', b"", b'{"kind": "status", "ok": "maybe"}']
    async with Producer(KafkaSettings(bootstrap_servers=bootstrap)) as producer:
        for value in junk:
            # Under the live bundle key and under keys of their own.
            await producer.send(topic, value, key=b"bundle/longboat")
            await producer.send(topic, value, key=b"bundle/junk")
            await producer.send(topic, value, key=b"gateway/junk")
        await producer.send(topic, None, key=b"gateway/never-existed")


def test_policy_status_survives_junk_records(run_cli: RunCli, cli_env: dict[str, str]) -> None:
    """Junk on lb.policies: `policy status` still answers, lists the good bundle, and warns."""
    assert run_cli("topics", "create", "--partitions", "1").returncode == 0
    published = run_cli("policy", "publish", str(POLICIES))
    assert published.returncode == 0, published.stderr
    digest = published.stdout.split()[2]
    topic = TopicNames(cli_env["LONGBOAT_TOPIC_PREFIX"]).policies
    asyncio.run(_write_junk(cli_env["LONGBOAT_KAFKA__BOOTSTRAP_SERVERS"], topic))

    for _ in range(2):  # the topic keeps the junk: every later call must still answer
        status = run_cli("policy", "status", "--json")
        assert status.returncode == 0, status.stderr
        lines = [json.loads(line) for line in status.stdout.splitlines()]
        assert [(s["kind"], s["name"], s["digest"]) for s in lines] == [
            ("bundle", "longboat", digest)
        ]
        assert "record_skipped" in status.stderr
        assert "Traceback" not in status.stderr
    human = run_cli("policy", "status")
    assert human.returncode == 0, human.stderr
    assert "published  longboat" in human.stdout
