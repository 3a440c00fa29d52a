"""`longboat shadow run | report` and the promotion gate, as an operator runs them."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from pathlib import Path

from longboat import Settings, TopicNames
from longboat.kafka import Admin
from tests.e2e.conftest import LONGBOAT, OPERATOR, RunCli
from tests.e2e.shadow_agents import COUNTS, build
from tests.helpers import assert_eventually
from tests.integration.agents.conftest import AgentWorld, read_all, running

MODULE = "tests.e2e.shadow_agents"


def test_shadow_run_report_and_the_promotion_gate(
    run_cli: RunCli,
    cli_env: dict[str, str],
    registry_url: str,
    unique: str,
    settings: Settings,
    tmp_path: Path,
) -> None:
    """A stricter candidate's report is not clean and blocks active; a same one's lets it pass."""
    names = TopicNames(f"e{unique}.")
    world = AgentWorld(settings, names, settings.kafka, f"in.{unique}", f"out.{unique}")
    production = build(threshold=10, topic=world.input_topic, out=world.output_topic)
    group = production.group_id(names)

    async def record() -> dict[str, int]:
        await world.create("payer")
        await world.publish([("a", {"amount": 5}), ("b", {"amount": 20})])
        async with running(production, world.agent_settings(instance="p1")):
            await world.read(world.output_topic, 2)

            async def committed() -> int:
                async with Admin(world.kafka) as admin:
                    return sum((await admin.group_offsets(group)).values())

            await assert_eventually(committed, lambda n: n == 2, what="production committed")
        async with Admin(world.kafka) as admin:
            return {str(tp): at for tp, at in (await admin.group_offsets(group)).items()}

    before = asyncio.run(record())
    assert COUNTS == {"score": 2}
    cli_env |= {"SHADOW_E2E_INPUT": world.input_topic, "SHADOW_E2E_OUTPUT": world.output_topic}
    cli_env["LONGBOAT_OPERATOR_TOKEN"] = OPERATOR
    for version in ("2.0", "2.1"):
        enrolled = run_cli("agents", "enroll", "payer", "--version", version, "--key-file",
                           str(tmp_path / f"payer-{version}.key"))  # fmt: skip
        assert enrolled.returncode == 0, enrolled.stderr
        assert run_cli("agents", "status", "payer", "canary", "--version", version).returncode == 0

    shadowed = run_cli("shadow", "run", "--agent", f"{MODULE}:strict", "--candidate-version", "2.0")
    assert shadowed.returncode == 0, shadowed.stderr
    assert f"2 run(s) shadowed in group e{unique}.shadow.payer.2.0" in shadowed.stdout
    blocked = tmp_path / "blocked.json"
    report = run_cli("shadow", "report", "payer", "-o", str(blocked))
    assert report.returncode == 1, report.stderr
    assert "CHANGED" in report.stdout
    assert "(not clean)" in report.stdout
    refused = run_cli("agents", "status", "payer", "active", "--version", "2.0",
                      "--require-clean-shadow", str(blocked))  # fmt: skip
    assert refused.returncode == 2
    assert "is not clean (changed=1 new=0 missing=0)" in refused.stderr
    assert "Traceback" not in refused.stderr
    listed = json.loads(run_cli("agents", "--json").stdout.splitlines()[0])
    assert listed["versions"]["2.0"]["status"] == "canary"

    again = run_cli("shadow", "run", "--agent", f"{MODULE}:same", "--candidate-version", "2.1",
                    "--from", "0", "--json")  # fmt: skip
    assert again.returncode == 0, again.stderr
    decisions = [json.loads(line) for line in again.stdout.splitlines()]
    assert [(d["offset"], d["outcome"]) for d in decisions] == [(0, "completed"), (1, "completed")]
    clean = tmp_path / "clean.json"
    assert run_cli("shadow", "report", "payer", "-o", str(clean)).returncode == 0
    wrong = run_cli("agents", "status", "payer", "active", "--version", "2.0",
                    "--require-clean-shadow", str(clean))  # fmt: skip
    assert wrong.returncode == 2
    assert "--version 2.1" in wrong.stderr
    promoted = run_cli("agents", "status", "payer", "active", "--version", "2.1",
                       "--require-clean-shadow", str(clean))  # fmt: skip
    assert promoted.returncode == 0, promoted.stderr
    listed = json.loads(run_cli("agents", "--json").stdout.splitlines()[0])
    assert listed["versions"]["2.1"]["status"] == "active"

    # --follow keeps reading until stopped; SIGTERM ends it cleanly after the batch in hand.
    following = subprocess.Popen(
        [LONGBOAT, "shadow", "run", "--agent", f"{MODULE}:same", "--candidate-version", "2.2",
         "--follow"],
        env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert following.stdout is not None
    lines = [following.stdout.readline() for _ in range(2)]  # echoed (and flushed) as decided
    assert [line.split()[1] for line in lines] == [
        f"{world.input_topic}/0@0",
        f"{world.input_topic}/0@1",
    ]
    following.send_signal(signal.SIGTERM)
    out, err = following.communicate(timeout=60)
    assert following.returncode == 0, err
    assert f"2 run(s) shadowed in group e{unique}.shadow.payer.2.2" in out

    async def production_side() -> tuple[dict[str, int], int]:
        async with Admin(world.kafka) as admin:
            offsets = {str(tp): at for tp, at in (await admin.group_offsets(group)).items()}
        return offsets, len(await read_all(world.kafka, world.output_topic))

    # The shadows moved no production offset and wrote nothing to production's output topic.
    assert asyncio.run(production_side()) == (before, 2)
