"""The faults of the fleet chaos run (``tests/chaos/fleet_chaos.py``): a seeded schedule and
the hands that carry it out on the running fleet and its broker.

Kinds: ``kill`` (SIGKILL one supervised process: an agent, the coordinator, the gateway or the
registry; some at the same moment as another), ``broker`` (SIGKILL the broker, start it again on
the same ports and data), ``opa`` (SIGSTOP the gateway's OPA for ``opa_stop_s``, then SIGCONT)
and ``policy`` (``longboat policy publish`` of a bundle whose moderation data differs).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from longboat.devinfra import KAFKA_MARKER, DevPorts, DevStack, is_running
from longboat.fleet import FleetPaths, read_state

__all__ = ["Fault", "FaultKind", "FaultLog", "Injector", "plan_faults"]

FaultKind = Literal["kill", "broker", "opa", "policy"]
# The supervisor marks a child failed after more than 5 restarts in 120 s: the schedule never
# kills one instance again within this many seconds, so every kill is followed by a restart.
_SAME_TARGET_GAP_S = 30.0
_KILLABLE = ("registry", "gateway", "coordinator", "agent")
LONGBOAT = str(Path(sys.executable).with_name("longboat"))
_Target = tuple[str, str, int, str | None]  # instance, component, pid, agent


@dataclass(frozen=True)
class Fault:
    """One planned fault: its kind, when (seconds after publishing starts) and, for a kill,
    how many processes die at that moment (2 = a simultaneous pair)."""

    kind: FaultKind
    at_s: float
    width: int = 1


@dataclass
class Injected:
    """A fault as carried out: wall-clock times (epoch seconds) and what it hit."""

    kind: FaultKind
    target: str
    component: str
    started: float
    ended: float
    agent: str | None = None
    pair: bool = False


@dataclass
class FaultLog:
    """Every fault carried out, in order, and the problems met while injecting."""

    injected: list[Injected] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def count(self, kind: FaultKind) -> int:
        """How many faults of ``kind`` were carried out."""
        return sum(f.kind == kind for f in self.injected)

    def to_json(self) -> list[dict[str, object]]:
        """The log as plain data (the run's JSON report)."""
        return [vars(f) for f in self.injected]


def plan_faults(*, seed: int, kills: int, span_s: float, opa_stop_s: float) -> list[Fault]:
    """The schedule over ``span_s`` seconds of publishing: ``kills`` SIGKILLs (about a quarter
    of them in simultaneous pairs), one OPA stop, one broker restart, one policy publish.

    The one-off faults sit at fixed fractions of the span so that they never overlap one
    another; kills are spread at random (seeded) between 5 % and 85 % of the span.
    """
    rng = random.Random(seed)
    pairs = max(1, kills // 6) if kills >= 2 else 0  # each pair: two kills at one moment
    singles = kills - 2 * pairs
    moments = sorted(rng.uniform(0.05, 0.85) * span_s for _ in range(singles + pairs))
    widths = [2] * pairs + [1] * singles
    rng.shuffle(widths)
    plan = [Fault("kill", at, width) for at, width in zip(moments, widths, strict=True)]
    plan += [
        Fault("opa", 0.30 * span_s),
        Fault("broker", 0.30 * span_s + opa_stop_s + 0.15 * span_s),
        Fault("policy", 0.70 * span_s),
    ]
    return sorted(plan, key=lambda f: f.at_s)


class Injector:
    """Carries faults out on one fleet (``paths``) and its local broker (``home``)."""

    def __init__(
        self,
        *,
        home: Path,
        paths: FleetPaths,
        ports: DevPorts,
        policies: Path,
        seed: int,
        opa_stop_s: float,
    ) -> None:
        """Bind the injector to the fleet's state folder, the stack's ports and policies."""
        self.home = home
        self.paths = paths
        self.ports = ports
        self.policies = policies
        self.opa_stop_s = opa_stop_s
        self.rng = random.Random(seed + 1)
        self.log = FaultLog()
        self._last_kill: dict[str, float] = {}

    def carry_out(self, fault: Fault) -> None:
        """Inject one fault now (blocking: the broker restart and OPA stop take seconds)."""
        if fault.kind == "kill":
            self._kill(fault.width)
        elif fault.kind == "opa":
            self._stop_opa()
        elif fault.kind == "broker":
            self._restart_broker()
        else:
            self._publish_policy()

    def _targets(self) -> list[_Target]:
        state = read_state(self.paths)
        if state is None:
            return []
        now = time.monotonic()
        return [
            (c.instance, c.component, c.pid, c.agent)
            for c in state.children
            if c.component in _KILLABLE
            and c.status == "running"
            and c.pid is not None
            and now - self._last_kill.get(c.instance, -1e9) > _SAME_TARGET_GAP_S
        ]

    def _kill(self, width: int) -> None:
        targets = self._targets()
        if len(targets) < width:
            self.log.problems.append(f"kill x{width}: only {len(targets)} processes were running")
            return
        chosen = self.choose_targets(targets, width)
        moment = time.time()
        for instance, _, pid, _ in chosen:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                self.log.problems.append(f"kill {instance}: pid {pid} had already exited")
        for instance, component, _, agent in chosen:
            self._last_kill[instance] = time.monotonic()
            self.log.injected.append(
                Injected("kill", instance, component, moment, moment, agent, pair=width > 1)
            )

    def choose_targets(self, targets: list[_Target], width: int) -> list[_Target]:
        """Random targets, but each kind (agent, coordinator, gateway, registry) is hit once
        before any kind is hit again, so a run of 4+ kills covers every kind."""
        hit = {f.component for f in self.log.injected if f.kind == "kill"}
        fresh = [t for t in targets if t[1] not in hit]
        chosen: list[_Target] = []
        while len(chosen) < width:
            pool = [t for t in (fresh or targets) if t not in chosen] or [
                t for t in targets if t not in chosen
            ]
            pick = self.rng.choice(pool)
            chosen.append(pick)
            fresh = [t for t in fresh if t[1] != pick[1]]
        return chosen

    def _stop_opa(self) -> None:
        state = read_state(self.paths)
        opa = next((c for c in state.children if c.component == "opa"), None) if state else None
        if opa is None or opa.pid is None:
            self.log.problems.append("opa stop: no OPA process in the fleet state")
            return
        os.kill(opa.pid, signal.SIGSTOP)
        # Taken after the signal: the window checked for allows starts when OPA is stopped.
        stopped = time.time()
        try:
            time.sleep(self.opa_stop_s)
        finally:
            resumed = time.time()  # before SIGCONT: an answer after it may be stamped later
            os.kill(opa.pid, signal.SIGCONT)
        self.log.injected.append(Injected("opa", opa.instance, "opa", stopped, resumed))

    def _all_running(self, timeout_s: float) -> None:
        """Wait (bounded) until every fleet process runs: the broker restart hits a whole
        fleet, not one still starting after a kill (whose restarts would all fail meanwhile)."""
        until = time.monotonic() + timeout_s
        while time.monotonic() < until:
            state = read_state(self.paths)
            if state is not None and all(c.status == "running" for c in state.children):
                return
            time.sleep(0.5)

    def _restart_broker(self) -> None:
        self._all_running(timeout_s=60)
        stack = DevStack(self.home)
        state = stack.read_state()
        if state is None:
            self.log.problems.append("broker restart: no dev stack state")
            return
        killed = time.time()
        os.kill(state.kafka_pid, signal.SIGKILL)
        # SIGKILL lands asynchronously: ``up`` must see the broker gone, or it returns the old
        # state as running. Then it starts the broker again on the same ports and data folder.
        gone_by = time.monotonic() + 30
        while is_running(state.kafka_pid, KAFKA_MARKER) and time.monotonic() < gone_by:
            time.sleep(0.05)
        stack.up(ports=self.ports)
        self.log.injected.append(Injected("broker", "kafka", "kafka", killed, time.time()))

    def _publish_policy(self) -> None:
        folder = self.home / "chaos-policies"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(self.policies, folder)
        data_file = folder / "longboat" / "moderation" / "data.json"
        data = json.loads(data_file.read_text())
        data["rules"]["block_words"].append("chaos-monkey")
        data_file.write_text(json.dumps(data, indent=2) + "\n")
        state = read_state(self.paths)
        if state is None:
            self.log.problems.append("policy publish: no fleet state")
            return
        env = {
            **os.environ,
            "LONGBOAT_KAFKA__BOOTSTRAP_SERVERS": state.bootstrap_servers,
            "LONGBOAT_TOPIC_PREFIX": state.topic_prefix,
        }
        started = time.time()
        result = subprocess.run(
            [LONGBOAT, "policy", "publish", str(folder)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            self.log.problems.append(f"policy publish failed: {result.stdout}{result.stderr}")
            return
        digest = result.stdout.split()[2]
        self.log.injected.append(Injected("policy", digest, "policy", started, time.time()))
