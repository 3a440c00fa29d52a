"""The agent process: one consumer-group member running a worker per assigned partition.

Lifecycle (:class:`longboat.Service`): ``async with AgentRunner(agent, settings) as runner:
await runner.run()``; ``runner.shutdown()`` (SIGTERM) stops fetching, lets in-flight runs finish
within the grace period, commits what is complete and leaves. ``/readyz`` is 200 while the
member holds partitions.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import socket
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from typing import Any

from longboat import EnvelopeSerde, HttpEndpoint, Service, TopicNames, get_logger
from longboat.agents._agent import Agent
from longboat.agents._checkpoint_meta import MAX_UNCOMMITTED, CheckpointMeta
from longboat.agents._faults import FaultPlan
from longboat.agents._governed import GatewayPort
from longboat.agents._journal import RunHistory, StepJournal, load_journal_tail
from longboat.agents._metrics import AgentMetrics
from longboat.agents._options import AgentRuntimeSettings, AgentSettings, Durability
from longboat.agents._partition import PartitionWorker, transactional_id
from longboat.agents._presence import keep_present
from longboat.agents._runtime_deps import RuntimeDeps
from longboat.errors import ConfigError
from longboat.kafka import (
    Admin,
    ConsumedRecord,
    Consumer,
    Producer,
    TopicPartition,
    TransactionalProducer,
)
from longboat.llm import provider_from_settings

__all__ = ["AgentRunner", "hand_over"]

_log = get_logger("agents.runner")

# The longest a member waits to be at work before it serves /livez anyway (no partitions, or a
# slow first checkpoint).
_HTTP_AT_THE_LATEST_S = 1.0


def _configured(agent: Agent, runtime: AgentRuntimeSettings) -> Agent:
    """``agent`` with the version and durability its settings override (a fleet sets them).

    Raises:
        ConfigError: The settings name another agent than the code defines.
    """
    if runtime.name is not None and runtime.name != agent.name:
        raise ConfigError(
            f"LONGBOAT_AGENT__NAME is {runtime.name} but the code defines agent {agent.name}: "
            "make the fleet file's agent name match Agent(name=...)"
        )
    if runtime.version is None and runtime.durability is None:
        return agent
    # A copy: the module's Agent object stays as its code defines it.
    configured = copy.copy(agent)
    configured.version = runtime.version or agent.version
    configured.durability = runtime.durability or agent.durability
    return configured


class AgentRunner(Service):
    """Runs one agent as one member of its consumer group.

    Its HTTP port is bound while opening, but the server is loaded and served only once the
    member is at work (its first partitions each checkpointed once, or one second): loading
    aiohttp is a third of a start, and a restarted agent's first output should not wait for it.
    """

    _defer_http = True

    def __init__(self, agent: Agent, settings: AgentSettings, *, http: bool = True) -> None:
        """Prepare the runner; nothing connects until ``async with``.

        Args:
            agent: The agent to run.
            settings: The process's settings.
            http: Serve ``/livez``, ``/readyz``, ``/metrics`` on ``LONGBOAT_AGENT__HTTP_PORT``;
                ``False`` for a runner embedded in another service (which serves its metrics).
        """
        agent.handle  # noqa: B018 - fail now, with the fix, if no handler was set
        runtime = settings.agent
        self.metrics = AgentMetrics()
        endpoint = HttpEndpoint(
            host=runtime.http_host, port=runtime.http_port, setting="LONGBOAT_AGENT__HTTP_PORT"
        )
        super().__init__(
            name=f"agent {agent.name}",
            http=endpoint if http else None,
            metrics=self.metrics.registry,
        )
        self.agent = _configured(agent, settings.agent)
        self.settings = settings
        self.names = TopicNames(settings.topic_prefix)
        self.group_id = agent.group_id(self.names)
        self.instance = runtime.instance or socket.gethostname()
        self._faults = FaultPlan(runtime.faults)
        self._workers: dict[TopicPartition, PartitionWorker] = {}
        # Records fetched for partitions whose workers are still opening (see on_assigned).
        self._early: dict[TopicPartition, list[ConsumedRecord]] = {}
        self._group: asyncio.TaskGroup | None = None
        self._consumer: Consumer | None = None
        self._deps: RuntimeDeps | None = None
        self._admin: Admin | None = None
        self._first_assignment = asyncio.Event()

    async def _open(self, stack: AsyncExitStack) -> None:
        kafka = self.settings.kafka
        self._admin = admin = Admin(kafka)
        producer = (
            Producer(kafka, linger_ms=0) if self.agent.durability is not Durability.EXIT else None
        )
        # Both connect at once (a start waits for one round of connections, not two); each is
        # closed by the stack, started or not. Both finish before the first error is raised.
        stack.push_async_callback(admin.stop)
        connecting: list[Coroutine[Any, Any, int | None]] = [self._start_and_check(admin)]
        if producer is not None:
            stack.push_async_callback(producer.stop)
            connecting.append(producer.start())
        journal_partitions, *errors = await asyncio.gather(*connecting, return_exceptions=True)
        for error in (journal_partitions, *errors):
            if isinstance(error, BaseException):
                raise error
        journal = None
        if producer is not None:
            assert isinstance(journal_partitions, int)
            journal = StepJournal(producer, self.names.journal(self.agent.name), journal_partitions)
        llm = provider_from_settings(self.settings.llm)
        stack.push_async_callback(llm.close)
        gateway = await self._gateway_client(stack)
        self._deps = RuntimeDeps(
            agent=self.agent,
            settings=self.settings,
            names=self.names,
            group_id=self.group_id,
            serde=EnvelopeSerde(max_event_bytes=self.settings.max_event_bytes),
            journal=journal,
            llm=llm,
            metrics=self.metrics,
            faults=self._faults,
            gateway=gateway,
            llm_via_gateway=self._llm_via_gateway(gateway),
        )

    def _llm_via_gateway(self, gateway: GatewayPort | None) -> bool:
        """Whether ``ctx.llm`` goes through the gateway (``LONGBOAT_LLM__ROUTE``)."""
        route = self.settings.llm.route
        if route == "gateway" and gateway is None:
            raise ConfigError(
                "LONGBOAT_LLM__ROUTE=gateway needs a gateway identity: set "
                "LONGBOAT_AGENT__KEY_FILE (from `longboat agents enroll`) and LONGBOAT_GATEWAY_URL"
            )
        return route == "gateway" or (route == "auto" and gateway is not None)

    def _log_fields(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent.name,
            "instance": self.instance,
            "durability": self.agent.durability.value,
        }

    async def _gateway_client(self, stack: AsyncExitStack) -> GatewayPort | None:
        """A gateway client signing with the agent's key, when one is configured."""
        return await gateway_client(self.agent, self.settings, instance=self.instance, stack=stack)

    async def _start_and_check(self, admin: Admin) -> int:
        """Connect ``admin`` and check the agent's topics; returns the journal's partition count.

        Raises:
            ConfigError: A topic is missing; the message says how to create it.
        """
        await admin.start()
        journal = self.names.journal(self.agent.name)
        needed = [
            *self.agent.input_topics(self.names),
            self.names.results,
            self.names.progress,
            self.names.dlq(self.agent.name),
            journal,
        ]
        # One metadata request for these topics, not a listing of the whole cluster's.
        counts = await admin.partition_counts(needed)
        missing = sorted(set(needed) - set(counts))
        if missing:
            raise ConfigError(
                f"agent {self.agent.name}: missing topics {', '.join(missing)}; create them with "
                f"`longboat topics create --agent {self.agent.name}` (plus --topic for inputs)"
            )
        return counts[journal]

    def ready(self) -> bool:
        """Whether this member holds partitions and is not stopping."""
        return bool(self._workers) and not self._stopping.is_set()

    async def _http_due(self) -> None:
        """Return once the first partitions' workers have each checkpointed (or after 1 s)."""
        try:
            async with asyncio.timeout(_HTTP_AT_THE_LATEST_S):
                await self._first_assignment.wait()
                await asyncio.gather(*(w.settled.wait() for w in list(self._workers.values())))
        except TimeoutError:
            pass

    async def _not_ready(self) -> str | None:
        return None if self._workers else "no partitions assigned"

    async def _run(self, children: asyncio.TaskGroup, resources: AsyncExitStack) -> None:
        """Consume until :meth:`shutdown`; every partition is committed on the way out."""
        runtime = self.settings.agent
        # On the run's stack: the consumer leaves the group only after every worker has ended.
        consumer = await resources.enter_async_context(
            Consumer(
                self.settings.kafka,
                topics=self.agent.input_topics(self.names),
                group_id=self.group_id,
                group_instance_id=self.instance,
                from_beginning=True,
                isolation_level="read_committed",
                session_timeout_ms=runtime.session_timeout_ms,
                rebalance=self,
                max_poll_records=max(self.agent.max_in_flight * 4, 100),
            )
        )
        self._consumer, self._group = consumer, children
        children.create_task(
            keep_present(
                self.agent,
                self.settings,
                self.instance,
                self._stopping,
                counters=self.metrics.totals,
            )
        )
        await self._poll(consumer)
        await self.on_revoked(set(self._workers))

    async def _poll(self, consumer: Consumer) -> None:
        while not self._stopping.is_set():
            for record in await consumer.poll(timeout_ms=100):
                worker = self._workers.get(record.topic_partition)
                if worker is not None:
                    worker.submit(record)
                elif (early := self._early.get(record.topic_partition)) is not None:
                    early.append(record)
                    if len(early) >= MAX_UNCOMMITTED:
                        # Bounded: no more until the worker takes over (the loop resumes it).
                        consumer.pause([record.topic_partition])
            saturated = [tp for tp, w in self._workers.items() if w.saturated or w.lost]
            consumer.resume([tp for tp in self._workers if tp not in saturated])
            consumer.pause(saturated)
            for tp, worker in self._workers.items():
                end = consumer.highwater(tp)
                if end is not None:
                    self.metrics.lag(
                        self.agent.name, tp.topic, tp.partition, end - worker.commit_position()
                    )

    async def on_assigned(self, partitions: set[TopicPartition]) -> None:
        """Fence the previous owners, restore committed state and journals, start workers."""
        new = sorted(tp for tp in partitions if tp not in self._workers)
        # Set before the first await: the fetcher starts on these partitions while their
        # workers open, and what it returns meanwhile is kept rather than fetched again.
        for tp in new:
            self._early[tp] = []
        try:
            opened = await asyncio.gather(*(self._open_worker(tp) for tp in new))
            assert self._group is not None
            assert self._consumer is not None
            if self.agent.on_assigned is not None:
                for worker, _ in opened:
                    await self.agent.on_assigned(worker.tp)
            for worker, start in opened:
                # Register and hand over with no await in between, so no record falls between.
                self._workers[worker.tp] = worker
                seek = functools.partial(self._consumer.seek, worker.tp)
                hand_over(self._early.pop(worker.tp), start, submit=worker.submit, seek=seek)
                self._group.create_task(worker.run())
        finally:
            for tp in new:
                self._early.pop(tp, None)
            self._first_assignment.set()
        _log.info(
            "partitions_assigned",
            agent_id=self.agent.name,
            partitions=[f"{tp.topic}/{tp.partition}" for tp in sorted(partitions)],
        )

    async def _open_worker(self, tp: TopicPartition) -> tuple[PartitionWorker, int]:
        deps, admin, consumer = self._deps, self._admin, self._consumer
        assert deps is not None
        assert admin is not None
        assert consumer is not None
        producer = TransactionalProducer(
            self.settings.kafka, transactional_id=transactional_id(self.group_id, tp)
        )
        # Starting the producer fences the old owner and completes its last transaction, so
        # the committed offset read next is the final one.
        await producer.start()
        committed = (await admin.committed(self.group_id, [tp])).get(tp)
        position = committed.offset if committed else None
        meta = (
            CheckpointMeta.decode(committed.metadata, committed.offset)
            if committed
            else CheckpointMeta(frozenset(), None)
        )
        histories: dict[int, RunHistory] = {}
        journal_end: int | None = None
        if deps.journal is not None:
            jp = deps.journal.partition_for(tp)
            histories, journal_end = await load_journal_tail(
                self.settings.kafka,
                topic=deps.journal.topic,
                journal_partition_id=jp,
                start=meta.journal_floor or 0,
                source=tp,
                from_offset=position or 0,
            )
        start = position if position is not None else (await consumer.beginning_offsets([tp]))[tp]
        _log.info(
            "partition_restored",
            topic=tp.topic,
            partition=tp.partition,
            offset=position,
            done_ahead=len(meta.done_ahead),
            runs_in_journal=len(histories),
        )
        worker = PartitionWorker(
            tp,
            deps,
            producer,
            position=position,
            meta=meta,
            histories=histories,
            journal_end=journal_end,
        )
        return worker, start

    async def on_revoked(self, partitions: set[TopicPartition]) -> None:
        """Finish or abandon in-flight runs of these partitions and commit what completed."""
        grace = self.settings.agent.shutdown_grace_s
        workers = [self._workers.pop(tp) for tp in partitions if tp in self._workers]
        await asyncio.gather(*(w.stop(grace) for w in workers))
        if self.agent.on_revoked is not None:
            for worker in workers:
                await self.agent.on_revoked(worker.tp)
        if workers:
            _log.info(
                "partitions_revoked",
                agent_id=self.agent.name,
                partitions=[f"{w.tp.topic}/{w.tp.partition}" for w in workers],
            )


def hand_over(
    early: list[ConsumedRecord],
    start: int,
    *,
    submit: Callable[[ConsumedRecord], None],
    seek: Callable[[int], None],
) -> None:
    """Give a new worker its records from ``start`` on: those fetched early, else by a seek.

    The fetcher read from the group's committed offset as it saw it, at or before ``start``
    (read after fencing: the final one). When what it returned spans ``start``, those records
    from ``start`` on are submitted and the fetcher goes on past them. Otherwise a seek: when
    they all lie before ``start`` the fetcher is still before it too, and what it returns next
    was committed already. A seek waits for the fetch already in flight past the backlog, which
    the broker holds for up to ``fetch_max_wait_ms`` (500 ms) when nothing new arrives: that was
    most of a restart's time to its first output.
    """
    if early and early[0].offset <= start <= early[-1].offset:
        for record in early:
            if record.offset >= start:
                submit(record)
    else:
        seek(start)


async def gateway_client(
    agent: Agent, settings: AgentSettings, *, instance: str, stack: AsyncExitStack
) -> GatewayPort | None:
    """A gateway client signing as ``agent`` with its key, when one is configured (else None)."""
    key_file = settings.agent.key_file
    if key_file is None:
        return None
    from longboat.gateway import GatewayClient
    from longboat.registry import TokenIssuer, load_private_key

    issuer = TokenIssuer(
        load_private_key(key_file), agent_id=agent.name, version=agent.version, instance=instance
    )
    client = GatewayClient(settings.gateway_url, token=lambda: issuer.issue(ttl_s=60))
    return await stack.enter_async_context(client)
