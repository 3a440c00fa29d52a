"""``longboat fleet up``: start a whole fleet on this machine and keep it running.

Order (docs/fleet.md): Kafka (the file's, or ``longboat dev up``'s) → topics → policies checked
and published → operator token → registry → agents enrolled → one OPA per gateway → gateways →
coordinator → every agent instance. Each child runs in its own session with its output in
``<state>/logs/<instance>.log``; one that exits unexpectedly is restarted with capped exponential
backoff and marked failed after too many restarts in a window. SIGINT/SIGTERM stop the children
in reverse order (SIGTERM, then SIGKILL after a grace).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from longboat import KafkaSettings, get_logger
from longboat.devinfra import DevStack, cache_dir, free_port, port_is_free, provision_opa
from longboat.devinfra import opa_command as build_opa_command
from longboat.errors import LongboatError, UsageError
from longboat.fleet._bootstrap import (
    check_policies,
    enrol_agents,
    ensure_fleet_topics,
    operator_token,
)
from longboat.fleet._children import Child, ChildSpec, RestartPolicy, wait_ready
from longboat.fleet._environment import (
    Component,
    ProcessAddresses,
    agent_llm_key,
    gateway_llm_key,
    process_environment,
)
from longboat.fleet._environment import tools_file_content as build_tools_file
from longboat.fleet._loading import fleet_root
from longboat.fleet._model import AgentSpec, Fleet
from longboat.fleet._state import (
    FleetPaths,
    FleetState,
    read_state,
    supervisor_alive,
    write_state,
)
from longboat.fleet._workflows import definitions_folder
from longboat.gateway import publish_bundle

__all__ = ["CHILD_MARKER", "FleetSupervisor", "longboat_command"]

_log = get_logger("fleet.supervisor")
# Every longboat child's command line holds this, so `down` never signals a recycled pid.
CHILD_MARKER = "longboat.cli"
_VERSION = "0.1.0"


def longboat_command(*args: str) -> tuple[str, ...]:
    """``longboat ARGS`` run by this interpreter (no dependence on PATH)."""
    return (sys.executable, "-c", "from longboat.cli import main; main()", *args)


class _Stopping(BaseException):
    """Raised by the signal handler to unwind start-up or the watch loop."""


class FleetSupervisor:
    """Starts, watches and stops the processes of one fleet."""

    def __init__(
        self,
        fleet: Fleet,
        file: Path,
        *,
        home: Path,
        say: Callable[[str], None] = print,
        restart: RestartPolicy | None = None,
        grace_s: float = 20.0,
    ) -> None:
        """Prepare a supervisor; nothing starts until :meth:`run`."""
        self.fleet = fleet
        self.file = file.resolve()
        self.root = fleet_root(fleet, file)
        self.home = home.resolve()
        self.paths = FleetPaths(home, fleet.name)
        self.say = say
        self.restart = restart or RestartPolicy()
        self.grace_s = grace_s
        self.children: list[Child] = []
        self._state: FleetState | None = None
        self._kafka: KafkaSettings | None = None

    def run(self) -> None:
        """Start everything, then supervise until SIGINT/SIGTERM; always stops what it started.

        Raises:
            LongboatError: Start-up failed (after stopping what had started).
            UsageError: This fleet already runs here.
        """
        self._refuse_second_supervisor()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        try:
            self._start()
            self._record(phase="ready")
            self.say(f"fleet {self.fleet.name} is ready (Ctrl-C or `longboat fleet down` stops it)")
            self._watch()
        except _Stopping:
            pass
        except LongboatError as e:
            self._record(phase="failed", error=str(e))
            raise
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop short
            self.stop()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        raise _Stopping

    def _refuse_second_supervisor(self) -> None:
        state = read_state(self.paths)
        if state is not None and supervisor_alive(state):
            raise UsageError(
                f"fleet {self.fleet.name} already runs here (supervisor pid "
                f"{state.supervisor_pid}): `longboat fleet down --name {self.fleet.name}` first"
            )

    # --- start-up ---------------------------------------------------------------------------

    def _start(self) -> None:
        kafka = self._resolve_kafka()
        created = asyncio.run(ensure_fleet_topics(self.fleet, kafka))
        self.say(f"topics       {created} created under {self.fleet.kafka.topic_prefix!r}")
        opa = provision_opa(cache_dir(self.home))
        if self.fleet.policies:
            folder = self.root / self.fleet.policies
            bundle = check_policies(opa, folder)
            prefix = self.fleet.kafka.topic_prefix
            asyncio.run(publish_bundle(bundle, kafka=kafka, topic_prefix=prefix))
            self.say(f"policies     {folder} published ({bundle.digest[:19]})")
        token = operator_token(self.paths.operator_token)
        registry_port = _port(self.fleet.registry.port)
        coordinator_port = _port(self.fleet.coordinator.port)
        gateway_ports = [
            _port(self.fleet.gateway.port + i) for i in range(self.fleet.gateway.replicas)
        ]
        self._urls = {
            "registry": f"http://127.0.0.1:{registry_port}",
            "gateway": f"http://127.0.0.1:{gateway_ports[0]}",
            "coordinator": f"http://127.0.0.1:{coordinator_port}",
        }
        self._record(phase="starting")
        self._launch([self._service("registry", "registry-0", registry_port)])
        keys = asyncio.run(
            enrol_agents(
                self.fleet, registry_url=self._urls["registry"], token=token, keys=self.paths.keys
            )
        )
        self.say(f"enrolled     {len(keys)} agents (keys in {self.paths.keys})")
        opas = [self._opa(opa, i) for i in range(len(gateway_ports))]
        self._launch(opas)
        self._launch(
            [
                self._service(
                    "gateway", f"gateway-{i}", port, opa_url=f"http://127.0.0.1:{o.spec.port}"
                )
                for i, (port, o) in enumerate(zip(gateway_ports, opas, strict=True))
            ]
        )
        self._launch([self._service("coordinator", "coordinator-0", coordinator_port)])
        # A canary's instances run beside the active ones, in the same consumer group.
        self._launch(
            [
                self._agent(agent, agent.instance(i), keys[agent.stem])
                for agent in self.fleet.agents
                for i in range(agent.replicas)
            ]
        )

    def _resolve_kafka(self) -> KafkaSettings:
        servers = self.fleet.kafka.bootstrap_servers
        if not servers:
            self.say("kafka        starting the local broker (longboat dev up) ...")
            servers = DevStack(self.home).up().bootstrap_servers
        sasl = (
            self.fleet.kafka.sasl if self.fleet.kafka.security_protocol.startswith("SASL") else None
        )
        password = os.environ.get("LONGBOAT_KAFKA__SASL_PASSWORD")
        self._kafka = KafkaSettings(
            bootstrap_servers=servers,
            security_protocol=self.fleet.kafka.security_protocol,
            sasl_mechanism=sasl.mechanism if sasl else None,
            sasl_username=sasl.username if sasl else None,
            sasl_password=password if sasl else None,  # type: ignore[arg-type]
            ssl_cafile=os.environ.get("LONGBOAT_KAFKA__SSL_CAFILE") or None,  # type: ignore[arg-type]
        )
        self.say(f"kafka        {servers}")
        return self._kafka

    def _addresses(self, port: int, **files: str | None) -> ProcessAddresses:
        assert self._kafka is not None
        return ProcessAddresses(
            bootstrap_servers=self._kafka.bootstrap_servers,
            registry_url=self._urls["registry"],
            gateway_url=self._urls["gateway"],
            coordinator_url=self._urls["coordinator"],
            port=port,
            kafka_ca_file=os.environ.get("LONGBOAT_KAFKA__SSL_CAFILE"),
            **files,  # type: ignore[arg-type]
        )

    def _environment(self, extra: dict[str, str]) -> dict[str, str]:
        # Inherit the user's environment (secrets such as LONGBOAT_KAFKA__SASL_PASSWORD live
        # there); the fleet's own variables win. The root is importable for agents and tools.
        python_path = os.pathsep.join(
            p for p in (str(self.root), os.environ.get("PYTHONPATH")) if p
        )
        return {**os.environ, **extra, "PYTHONPATH": python_path}

    def _service(
        self, component: Component, instance: str, port: int, *, opa_url: str | None = None
    ) -> Child:
        files: dict[str, str | None] = {}
        if component == "registry":
            files["operator_token_file"] = str(self.paths.operator_token)
        elif component == "gateway":
            files["opa_url"] = opa_url
            if self.fleet.tools:
                self.paths.tools_file.write_text(build_tools_file(self.fleet))
                files["tools_file"] = str(self.paths.tools_file)
        elif component == "coordinator":
            folder = definitions_folder(self.fleet, self.root, self.paths.workflows)
            files["definitions"] = str(folder)
            # Mission Control's approver token is the fleet's operator token.
            files["operator_token_file"] = str(self.paths.operator_token)
        env = process_environment(
            self.fleet, component, instance=instance, addresses=self._addresses(port, **files)
        )
        environment = self._environment(env)
        if component == "gateway":
            environment = gateway_llm_key(environment)
        return self._child(
            ChildSpec(
                component=component,
                instance=instance,
                argv=longboat_command("run", component),
                env=environment,
                cwd=self.root,
                log=self.paths.log(instance),
                port=port,
                health_url=f"http://127.0.0.1:{port}/readyz",
                version=_VERSION,
            )
        )

    def _opa(self, binary: Path, index: int) -> Child:
        port = _port(self.fleet.gateway.opa.port + index)
        data = self.paths.dir / f"opa-{index}"
        data.mkdir(parents=True, exist_ok=True)
        return self._child(
            ChildSpec(
                component="opa",
                instance=f"opa-{index}",
                argv=tuple(build_opa_command(binary, port=port)),
                env=dict(os.environ),
                cwd=data,
                log=self.paths.log(f"opa-{index}"),
                port=port,
                health_url=f"http://127.0.0.1:{port}/health",
                version=binary.parent.name.removeprefix("opa-"),
            )
        )

    def _agent(self, agent: AgentSpec, instance: str, key: Path) -> Child:
        port = free_port()
        env = process_environment(
            self.fleet,
            "agent",
            agent=agent,
            instance=instance,
            addresses=self._addresses(port, key_file=str(key)),
        )
        return self._child(
            ChildSpec(
                component="agent",
                instance=instance,
                argv=longboat_command("run", "agent", agent.module),
                env=agent_llm_key(self._environment(env)),
                cwd=self.root,
                log=self.paths.log(instance),
                port=port,
                health_url=f"http://127.0.0.1:{port}/readyz",
                version=agent.version,
                agent=agent.name,
            )
        )

    def _child(self, spec: ChildSpec) -> Child:
        child = Child(spec, policy=self.restart)
        self.children.append(child)
        return child

    def _launch(self, children: list[Child]) -> None:
        for child in children:
            child.start()
        self._record()

        def ready(child: Child) -> None:
            self.say(
                f"ready        {child.spec.instance:<22} pid {child.pid}  {child.spec.health_url}"
            )
            self._record()

        wait_ready(children, timeout_s=120, on_ready=ready)

    # --- supervision ------------------------------------------------------------------------

    def _watch(self) -> None:
        while True:
            if self._tick(time.monotonic()):
                self._record()
            time.sleep(0.3)

    def _tick(self, now: float) -> bool:
        """One round of supervision; returns whether any child changed."""
        changed = False
        for child in self.children:
            if child.status in ("running", "starting") and child.exited():
                code = child.process.returncode if child.process else None
                child.schedule_restart(now)
                _log.warning(
                    "child_exited",
                    instance=child.spec.instance,
                    exit_code=code,
                    status=child.status,
                )
                self.say(f"exited       {child.spec.instance} (exit {code}): {child.status}")
                changed = True
            elif child.due(now):
                child.start()
                child.status = "starting"
                changed = True
            elif child.status == "starting" and child.ready():
                child.status = "running"
                restarted = f"(restart {child.restarts})"
                self.say(f"ready        {child.spec.instance:<22} pid {child.pid} {restarted}")
                changed = True
        return changed

    def stop(self) -> None:
        """Stop every child in reverse start order, then remove the state file."""
        self._record(phase="stopping")
        for child in reversed(self.children):
            child.stop(self.grace_s)
        self.paths.state.unlink(missing_ok=True)
        self.say(f"fleet {self.fleet.name} stopped")

    def _record(self, *, phase: str | None = None, error: str | None = None) -> None:
        assert self._kafka is not None or self._state is None
        previous = self._state
        urls = getattr(self, "_urls", {})
        self._state = FleetState(
            name=self.fleet.name,
            file=str(self.file),
            supervisor_pid=os.getpid(),
            bootstrap_servers=self._kafka.bootstrap_servers if self._kafka else "",
            topic_prefix=self.fleet.kafka.topic_prefix,
            registry_url=urls.get("registry", ""),
            gateway_url=urls.get("gateway", ""),
            coordinator_url=urls.get("coordinator", ""),
            started_at=previous.started_at if previous else datetime.now(UTC),
            phase=phase or (previous.phase if previous else "starting"),  # type: ignore[arg-type]
            error=error,
            children=tuple(child.state() for child in self.children),
        )
        write_state(self.paths, self._state)


def _port(preferred: int) -> int:
    """The fleet file's port when free here, else one the OS picks (two fleets can run)."""
    return preferred if port_is_free(preferred) else free_port()
