"""The workflow benchmark's processes and its view of the topics (``bench.workflow_scaling``)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from bench._broker import REPO
from bench.scaling import _stop
from bench.specialists import AGENTS
from longboat import KafkaSettings, TopicNames
from longboat.devinfra import free_port
from longboat.kafka import Consumer, TopicPartition

__all__ = ["Fleet", "Watch"]


class Fleet:
    """N coordinators and N of each specialist, each its own process, on one topic prefix."""

    def __init__(
        self, servers: str, names: TopicNames, folder: Path, instances: int, *, logs: Path
    ) -> None:
        """Describe the fleet (``folder``: its definitions, ``logs``: each process's stderr);
        processes start on enter, stop (SIGTERM) on exit."""
        self.token = secrets.token_hex(16)
        self._env = {
            **os.environ,
            "LONGBOAT_KAFKA__BOOTSTRAP_SERVERS": servers,
            "LONGBOAT_TOPIC_PREFIX": names.prefix,
            "LONGBOAT_OPERATOR_TOKEN": self.token,
            "LONGBOAT_LOG_LEVEL": "warning",
            "PYTHONPATH": str(REPO),
        }
        longboat = str(Path(sys.executable).parent / "longboat")
        self._commands: list[tuple[list[str], int]] = []
        for k in range(instances):
            specs = [("coordinator", "--definitions", str(folder), f"c{k}")] + [
                ("agent", f"bench.specialists:{name}", None, f"{name}-{k}") for name in AGENTS
            ]
            for kind, first, second, instance in specs:
                port = free_port()
                option = "--port" if kind == "coordinator" else "--http-port"
                command = [longboat, "run", kind, first, *([second] if second else [])]
                command += ["--instance", instance, option, str(port)]
                self._commands.append((command, port))
        self.api = f"http://127.0.0.1:{self._commands[0][1]}"
        self._logs = logs
        self._processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Fleet:
        for i, (command, _) in enumerate(self._commands):
            with (self._logs / f"{i}.log").open("wb") as log:
                self._processes.append(
                    subprocess.Popen(
                        command, env=self._env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log
                    )
                )
        return self

    def __exit__(self, *_: object) -> None:
        _stop(self._processes)

    async def ready(self, timeout_s: float = 180) -> None:
        """Wait until every process answers ``/readyz`` (it holds partitions)."""
        deadline = time.monotonic() + timeout_s
        for i, (process, (_, port)) in enumerate(zip(self._processes, self._commands, strict=True)):
            while not await asyncio.to_thread(_ready, port):
                if process.poll() is not None or time.monotonic() > deadline:
                    tail = (self._logs / f"{i}.log").read_text()[-2000:]
                    raise RuntimeError(f"{self._commands[i][0][2:4]} on :{port} not ready: {tail}")
                await asyncio.sleep(0.2)


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
            return True
    except OSError:
        return False


class Watch:
    """Committed workflow states and stepb tasks (read_committed), each first seen when."""

    def __init__(self, kafka: KafkaSettings, names: TopicNames, partitions: int) -> None:
        """Watch every partition of the state and stepb task topics from their current end."""
        self.reached: dict[str, dict[str, float]] = {}
        self.tasked: dict[str, float] = {}
        self._tasks = names.tasks("stepb")
        self._tps = [
            TopicPartition(topic, p)
            for topic in (names.workflows_state, self._tasks)
            for p in range(partitions)
        ]
        self._consumer = Consumer(kafka, isolation_level="read_committed")
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Watch:
        await self._consumer.start()
        self._consumer.assign(self._tps)
        for tp, end in (await self._consumer.end_offsets(self._tps)).items():
            self._consumer.seek(tp, end)
        self._task = asyncio.create_task(self._loop())
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()

    async def _loop(self) -> None:
        while True:
            for record in await self._consumer.poll(timeout_ms=20):
                now = time.perf_counter()
                key = (record.key or b"").decode()
                if record.topic == self._tasks:
                    self.tasked.setdefault(key, now)
                elif record.value is not None:
                    status = json.loads(record.value)["state"]["status"]
                    self.reached.setdefault(status, {}).setdefault(key, now)

    async def wait(self, status: str, ids: Iterable[str], timeout_s: float = 600) -> float:
        """The time the last of ``ids`` reached ``status`` (``"task"``: its stepb task)."""
        wanted = list(ids)
        deadline = time.monotonic() + timeout_s
        while True:
            seen = self.tasked if status == "task" else self.reached.get(status, {})
            missing = [w for w in wanted if w not in seen]
            if not missing:
                return max(seen[w] for w in wanted)
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{len(missing)} of {len(wanted)} workflows never reached {status}"
                )
            await asyncio.sleep(0.01)
