"""SIGKILL of a real gateway process and of a real agent process in the middle of an MCP tool
call; the upstream server's counter proves each call took effect once (or, for a tool that
neither dedupes nor is idempotent, that it is refused rather than repeated)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import JsonValue

from longboat import Envelope, EnvelopeSerde, TopicSpec
from longboat.gateway import GatewayClient, approve_tool, read_catalogue
from longboat.gateway._client import GatewayRefused, GatewayUnavailable
from longboat.kafka import Admin, Producer
from longboat.registry import TokenIssuer, write_private_key
from tests.helpers import assert_eventually
from tests.integration.agents.conftest import read_committed
from tests.integration.gateway.conftest import REPO, GatewayWorld, serving
from tests.integration.gateway.test_mcp_tools import SERVER, _approve_all, _effects

LONGBOAT = str(Path(sys.executable).parent / "longboat")


async def agent_process_setup(
    world: GatewayWorld,
    key_file: Path,
    agent: str,
    capability: str,
    topics: tuple[str, str],
    inputs: list[JsonValue],
) -> None:
    """Enrol ``agent`` (its key written to ``key_file`` as `longboat agents enroll` does),
    create its topics and the input/output pair, publish ``inputs`` (type ``pay``, key ``k``)."""
    issuer = await world.enroll(agent, capability)
    write_private_key(issuer._key, key_file)
    async with Admin(world.settings.kafka) as admin:
        await admin.ensure_topics(
            [*world.names.agent_topics(agent, partitions=1), *(TopicSpec(t, 1) for t in topics)]
        )
    serde = EnvelopeSerde()
    async with Producer(world.settings.kafka) as producer:
        for data in inputs:
            event = serde.encode(Envelope(type="pay", source="/tests", data=data))
            await producer.send(topics[0], event.value, key=b"k", headers=event.headers)


def agent_process_env(
    world: GatewayWorld, gateway_port: int, key_file: Path, **extra: str
) -> dict[str, str]:
    """The environment of a `longboat run agent` process signing to the gateway on the port."""
    return {
        "LONGBOAT_KAFKA__BOOTSTRAP_SERVERS": world.settings.kafka.bootstrap_servers,
        "LONGBOAT_TOPIC_PREFIX": world.settings.topic_prefix,
        "LONGBOAT_GATEWAY_URL": f"http://127.0.0.1:{gateway_port}",
        "LONGBOAT_REGISTRY_URL": "http://127.0.0.1:9",
        "LONGBOAT_AGENT__KEY_FILE": str(key_file),
        "LONGBOAT_AGENT__HTTP_PORT": "0",
        "LONGBOAT_AGENT__HEARTBEAT_S": "60",
        "LONGBOAT_AGENT__SESSION_TIMEOUT_MS": "6000",
        **extra,
    }


class Processes:
    """The processes one test starts; each is killed (by its own handle) when the test ends."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[subprocess.Popen[bytes]] = []
        self.upstream_pids: list[int] = []

    def start(self, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("LONGBOAT_")}
        log = (self.log_dir / f"process-{len(self.started)}.log").open("wb")
        process = subprocess.Popen(
            [LONGBOAT, *args],
            env=base | {"LONGBOAT_LOG_LEVEL": "warning", "PYTHONPATH": str(REPO), **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        self.started.append(process)
        return process

    def close(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait()
        for pid in self.upstream_pids:  # an upstream server a killed gateway left behind
            if _running(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    started = Processes(tmp_path)
    yield started
    started.close()


def _running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie nobody reaps has finished)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _ended(pid: int) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return not _running(pid)

    return probe


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _held_tools(
    world: GatewayWorld, counter: Path, hold: Path, reconcile: Mapping[str, object] | None = None
) -> Path:
    """The stdio MCP server; its calls wait while ``hold`` exists."""
    tools = world.data_dir.parent / "crash-tools.json"
    server: dict[str, object] = {
        "kind": "mcp",
        "transport": "stdio",
        "command": "python",
        "args": ["-m", SERVER, "stdio"],
        "env": {
            "MCP_COUNTER_FILE": str(counter),
            "MCP_HOLD_FILE": str(hold),
            "PYTHONPATH": str(REPO),
        },
    }
    if reconcile:
        server["reconcile"] = dict(reconcile)
    tools.write_text(json.dumps({"tools": {"files": server}}))
    return tools


def _started(hold: Path) -> int | None:
    """The pid of the upstream server inside a held call, once (the marker is consumed)."""
    marker = Path(f"{hold}.started")
    if not marker.exists():
        return None
    pid = int(marker.read_text())
    marker.unlink()
    return pid


async def _until_started(hold: Path) -> int:
    """Wait until the upstream tool is inside its call; its server's pid."""

    async def probe() -> int | None:
        return _started(hold)

    pid = await assert_eventually(
        probe, lambda found: found is not None, timeout_s=60, what="upstream call started"
    )
    assert pid is not None
    return pid


class GatewayProcess:
    """``longboat run gateway`` as a real process, restartable on the same port."""

    def __init__(self, world: GatewayWorld, processes: Processes, tools: Path) -> None:
        self.world, self.processes, self.tools = world, processes, tools
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        env = {
            "LONGBOAT_KAFKA__BOOTSTRAP_SERVERS": self.world.settings.kafka.bootstrap_servers,
            "LONGBOAT_TOPIC_PREFIX": self.world.settings.topic_prefix,
            "LONGBOAT_OPA_URL": self.world.opa.url,
            "LONGBOAT_GATEWAY__TOOLS_FILE": str(self.tools),
            "LONGBOAT_GATEWAY__OPA_TIMEOUT_MS": "5000",
            "LONGBOAT_GATEWAY__INSTANCE": "gw-crash",
        }
        self.process = self.processes.start(["run", "gateway", "--port", str(self.port)], env)
        await assert_eventually(self._ready, bool, timeout_s=90, what="gateway process ready")

    async def _ready(self) -> bool:
        assert self.process is not None
        assert self.process.poll() is None, "the gateway process exited"
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        writer.write(b"GET /readyz HTTP/1.0\r\n\r\n")
        status = await reader.readline()
        writer.close()
        return b" 200 " in status

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        code = await asyncio.to_thread(self.process.wait)
        assert code == -signal.SIGKILL

    async def invoke(
        self, issuer: TokenIssuer, tool: str, arguments: JsonValue, key: str
    ) -> dict[str, Any]:
        async with GatewayClient(f"http://127.0.0.1:{self.port}", token=issuer.issue) as gw:
            return await gw.invoke(tool, arguments, idempotency_key=key)


async def _approve_from_outside(world: GatewayWorld, gateway: GatewayProcess) -> None:
    """Approve what the gateway process discovered; wait until it follows (read-only probe)."""
    pending = await read_catalogue(world.settings.kafka, world.names)
    for entry in sorted(pending, key=lambda e: e.definition.name == "files.lookup"):
        definition = entry.definition
        await approve_tool(
            world.settings.kafka, world.names, definition.name, definition.digest, operator="ops"
        )
    issuer = world.issuers["triage"]

    async def lookup_allowed() -> bool:
        try:
            await gateway.invoke(issuer, "files.lookup", {"city": "Oslo"}, "probe")
        except GatewayRefused:
            return False
        return True

    await assert_eventually(lookup_allowed, bool, timeout_s=30, what="approvals followed")


async def test_gateway_sigkilled_mid_call_reconciles_without_a_second_effect(
    world: GatewayWorld, processes: Processes, tmp_path: Path
) -> None:
    """Gateway SIGKILLed mid tools/call: a keyed tool is re-run with its key (one effect); a
    non-idempotent one is refused as in doubt (never repeated)."""
    counter, hold = tmp_path / "effects.txt", tmp_path / "hold"
    await world.publish()
    issuer = await world.enroll("triage", "tool:files")
    gateway = GatewayProcess(world, processes, _held_tools(world, counter, hold))
    await gateway.start()
    await _approve_from_outside(world, gateway)
    calls: list[tuple[str, JsonValue, str]] = [
        ("files.charge", {"amount": 9}, "c"),
        ("files.send", {"text": "hi"}, "s"),
    ]
    for tool, arguments, key in calls:
        hold.touch()
        call = asyncio.create_task(gateway.invoke(issuer, tool, arguments, key))
        upstream = await _until_started(hold)
        processes.upstream_pids.append(upstream)
        await gateway.kill()
        with pytest.raises(GatewayUnavailable):
            await call  # the caller lost its answer
        hold.unlink()  # the orphaned upstream may finish its call: the effect may have happened
        await assert_eventually(_ended(upstream), bool, what="orphaned upstream ended")
        await gateway.start()
    charged = await gateway.invoke(issuer, "files.charge", {"amount": 9}, "c")
    again = await gateway.invoke(issuer, "files.charge", {"amount": 9}, "c")
    with pytest.raises(GatewayRefused, match="tool_in_doubt"):
        await gateway.invoke(issuer, "files.send", {"text": "hi"}, "s")
    effects = Counter(line.split(" ")[0] for line in _effects(counter))
    assert effects["charge"] == 1, _effects(counter)
    assert effects["send"] <= 1, _effects(counter)
    assert charged["result"] == again["result"]
    assert charged["result"]["key"] == "triage:c"
    assert not again["executed"]


async def test_gateway_sigkilled_mid_call_reconciles_through_the_hook(
    world: GatewayWorld, processes: Processes, tmp_path: Path
) -> None:
    """Gateway SIGKILLed mid-call of a non-idempotent tool with a reconcile hook: the retry gets
    the reconciled result when the effect happened, and runs the call once when it did not."""
    counter, hold = tmp_path / "effects.txt", tmp_path / "hold"
    await world.publish()
    issuer = await world.enroll("triage", "tool:files")
    hook = {"pay": {"tool": "lookup_payment"}}
    gateway = GatewayProcess(world, processes, _held_tools(world, counter, hold, hook))
    await gateway.start()
    await _approve_from_outside(world, gateway)
    for key, finishes in (("done", True), ("lost", False)):
        hold.touch()
        call = asyncio.create_task(gateway.invoke(issuer, "files.pay", {"amount": 3}, key))
        upstream = await _until_started(hold)
        processes.upstream_pids.append(upstream)
        await gateway.kill()
        with pytest.raises(GatewayUnavailable):
            await call  # the caller lost its answer
        if not finishes:
            os.kill(upstream, signal.SIGKILL)  # the call dies with its server: no effect
        hold.unlink()  # else the orphaned upstream finishes its call: the effect happened
        await assert_eventually(_ended(upstream), bool, what="orphaned upstream ended")
        await gateway.start()
    done = await gateway.invoke(issuer, "files.pay", {"amount": 3}, "done")
    lost = await gateway.invoke(issuer, "files.pay", {"amount": 3}, "lost")
    again = await gateway.invoke(issuer, "files.pay", {"amount": 3}, "lost")
    assert _effects(counter) == ["pay 3 triage:done", "pay 3 triage:lost"]
    assert done == {**done, "executed": False, "result": {"receipt": "p-1", "amount": 3}}
    assert lost["executed"]
    assert lost["result"] == again["result"] == {"receipt": "p-2", "amount": 3}


def _effects_per_call(counter: Path) -> Counter[str]:
    """Each effect without its idempotency key (charge lines end with it)."""
    lines = _effects(counter)
    return Counter(line.rsplit(" ", 1)[0] if line.startswith("charge") else line for line in lines)


async def test_agent_sigkilled_mid_tool_step_resumes_without_repeating_a_call(
    world: GatewayWorld, processes: Processes, tmp_path: Path, unique: str
) -> None:
    """Agent SIGKILLed while its ctx.tool step waits on an MCP tool: the restarted run gets the
    recorded results; each upstream call took effect once and each input has one output."""
    counter, hold = tmp_path / "effects.txt", tmp_path / "hold"
    await world.publish()
    key_file = tmp_path / "payer.key"
    input_topic, output_topic = f"pin.{unique}", f"pout.{unique}"
    await agent_process_setup(
        world, key_file, "payer", "tool:files", (input_topic, output_topic), [{"id": 1}, {"id": 2}]
    )
    serde = EnvelopeSerde()
    async with serving(world, tools_file=_held_tools(world, counter, hold)) as gateway:
        await _approve_all(world, gateway)
        env = agent_process_env(
            world,
            gateway.port,
            key_file,
            MCP_AGENT_INPUT=input_topic,
            MCP_AGENT_OUTPUT=output_topic,
        )
        run = ["run", "agent", "tests.integration.gateway.mcp_agent:agent", "--instance", "p-1"]
        hold.touch()
        first = processes.start(run, env)
        await _until_started(hold)  # the first charge is at the upstream server
        first.send_signal(signal.SIGKILL)
        assert await asyncio.to_thread(first.wait) == -signal.SIGKILL
        hold.unlink()
        second = processes.start(run, env)
        records = await read_committed(world.settings.kafka, output_topic, 2, timeout_s=120)
        second.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(second.wait) == 0, "graceful shutdown on SIGTERM"
    outputs: list[dict[str, Any]] = [
        dict(serde.decode(r.value or b"", r.headers).data)  # type: ignore[arg-type]
        for r in records
    ]
    assert sorted(o["id"] for o in outputs) == [1, 2]
    expected = {"charge 1": 1, "charge 2": 1, "send charged 1": 1, "send charged 2": 1}
    assert _effects_per_call(counter) == Counter(expected), _effects(counter)
    for output in outputs:
        receipt = str(output["receipt"]["receipt"])
        # Receipt r-N is line N of the counter: the output carries the one effect's receipt.
        line = _effects(counter)[int(receipt[2:]) - 1]
        assert line.startswith(f"charge {output['id']} "), (receipt, line)
