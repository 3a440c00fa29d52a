"""SIGKILL an agent whose ctx.llm goes through the gateway: each LLM step is counted once."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

from longboat.gateway import MODEL_USAGE
from longboat.kafka import read_decoded
from longboat.registry import write_private_key
from tests.chaos.test_crash_recovery import ITEMS, Chaos, _finish_and_collect, _prepare, _wait_exit
from tests.integration.gateway.conftest import GatewayWorld, serving
from tests.integration.gateway.conftest import world as world  # the gateway world fixture


async def test_replay_after_sigkill_does_not_double_count_llm_usage(
    world: GatewayWorld, tmp_path: Path
) -> None:
    """Killed after an LLM step ran but before it was journalled: one usage record per step."""
    issuer = await world.enroll("chaos", "memory:claims")
    key_file = tmp_path / "chaos.key"
    write_private_key(issuer._key, key_file)  # as `longboat agents enroll` writes it
    await world.publish()
    prefix = world.settings.topic_prefix
    chaos = Chaos(
        world.settings.kafka,
        prefix,
        f"{prefix}in",
        f"{prefix}out",
        tmp_path / "c.txt",
        tmp_path,
        [],
    )
    await _prepare(chaos)
    try:
        async with serving(world) as gateway:
            env = {
                "LONGBOAT_AGENT__KEY_FILE": str(key_file),
                "LONGBOAT_GATEWAY_URL": f"http://127.0.0.1:{gateway.port}",
                "LONGBOAT_LLM__ROUTE": "gateway",
                "LONGBOAT_AGENT__VERSION": "1.0",  # as enrolled
                "LONGBOAT_AGENT__HEARTBEAT_S": "3600",
            }
            # Steps per run: charge, llm. The 4th step is the 2nd run's LLM call.
            first = chaos.start(faults="step.after_run@4", extra_env=env)
            assert await _wait_exit(first) == -signal.SIGKILL, "the fault point fired"
            outputs = await _finish_and_collect(chaos, extra_env=env)
    finally:
        for process in chaos.processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert Counter(int(str(o["id"])) for o in outputs) == Counter(range(ITEMS))
    usage = [
        r.value
        async for r in read_decoded(world.settings.kafka, world.names.models_usage, MODEL_USAGE)
        if r.value is not None
    ]
    runs = Counter(u.run_id for u in usage)
    assert len(runs) == ITEMS, runs  # one accounted call per run ...
    assert set(runs.values()) == {1}, runs  # ... never two, though one step ran twice
    texts = {str(o["llm"]) for o in outputs}
    assert texts == {u.answer.text for u in usage}  # the runs acted on the accounted answers
