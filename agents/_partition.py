"""One input partition: key-ordered parallel runs and transactional checkpoints.

Invariants (each one is why a crash neither loses nor repeats an output):

- A run's outputs are written in the same transaction that records the run as done — either
  by moving the committed offset past it, or by listing it as done-ahead in the offset's
  metadata (``_checkpoint_meta.py``).
- The committed offset never passes a record whose run has not completed.
- The transactional id is bound to the partition, so a new owner fences this one: a zombie
  can run code but cannot commit outputs.
"""

from __future__ import annotations

import asyncio
import contextlib

from longboat import get_logger
from longboat.agents._checkpoint_meta import MAX_UNCOMMITTED, CheckpointMeta
from longboat.agents._journal import JournalRecord, JournalUnavailable, RunHistory
from longboat.agents._options import Durability
from longboat.agents._outputs import OutputRecord
from longboat.agents._run import RunOutcome, execute_run
from longboat.agents._runtime_deps import RuntimeDeps
from longboat.errors import LongboatError, ProducerFenced
from longboat.kafka import ConsumedRecord, RecordMetadata, TopicPartition, TransactionalProducer

__all__ = ["PartitionWorker", "transactional_id"]

_log = get_logger("agents.partition")


def transactional_id(group_id: str, tp: TopicPartition) -> str:
    """``<group>.<topic>.<partition>``: one fencing identity per input partition. NEVER CHANGE."""
    return f"{group_id}.{tp.topic}.{tp.partition}"


class PartitionWorker:
    """Processes one assigned partition until it is revoked or the agent stops."""

    def __init__(
        self,
        tp: TopicPartition,
        deps: RuntimeDeps,
        producer: TransactionalProducer,
        *,
        position: int | None,
        meta: CheckpointMeta,
        histories: dict[int, RunHistory],
        journal_end: int | None,
    ) -> None:
        """Take over ``tp`` from its committed ``position`` (the producer is already fencing)."""
        self.tp = tp
        self._deps = deps
        self._producer = producer
        self._queue: asyncio.Queue[ConsumedRecord | None] = asyncio.Queue()
        self._slots = asyncio.Semaphore(deps.agent.max_in_flight)
        self._tails: dict[bytes, asyncio.Future[None]] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._outstanding: set[int] = set()
        self._completed: set[int] = set()
        self._skip = set(meta.done_ahead)
        self._histories = histories
        self._position = position
        self._committed = (position, frozenset(meta.done_ahead))
        self._last_received: int | None = None
        self._ready: list[OutputRecord] = []
        self._since_commit = 0
        # The first completed run after taking over commits at once, backlog or not: a restart
        # shows its first output as soon as it has one (later runs batch as usual).
        self._first_run_pending = True
        # Set after the first checkpoint (committed, or nothing to commit yet): at work.
        self.settled = asyncio.Event()
        self._commit_due = asyncio.Event()
        self._commit_lock = asyncio.Lock()
        self._stopping = False
        self._closing = False
        self._journal_failed: BaseException | None = None
        self._grace = 0.0
        self._finished = asyncio.Event()
        self.lost = False
        # Journal floor bookkeeping (see _journal_floor).
        self._floor = journal_end if journal_end is not None else meta.journal_floor
        self._journal_pending = 0
        self._journal_max_acked: int | None = None
        self._first_journal = {
            o: h.first_journal_offset
            for o, h in histories.items()
            if h.first_journal_offset is not None
        }

    # -- intake ---------------------------------------------------------------------------
    def submit(self, record: ConsumedRecord) -> None:
        """Hand over a fetched record (in offset order)."""
        if self._stopping or self.lost:
            return
        if self._last_received is not None and record.offset <= self._last_received:
            return  # re-fetched after a seek: already taken
        self._last_received = record.offset
        if record.offset in self._skip:
            # Completed by a previous owner whose outputs are committed: never run it twice.
            self._skip.discard(record.offset)
            self._completed.add(record.offset)
            self._deps.metrics.record_processed(self._deps.agent.name, "skipped")
            return
        self._outstanding.add(record.offset)
        self._queue.put_nowait(record)

    @property
    def saturated(self) -> bool:
        """Whether fetching should pause: the uncommitted span is near what metadata can hold."""
        if self._last_received is None:
            return False
        return self._last_received - self.commit_position() >= MAX_UNCOMMITTED - 1

    def commit_position(self) -> int:
        """The lowest offset not completed (the next offset a new owner must read)."""
        if self._outstanding:
            return min(self._outstanding)
        if self._last_received is not None:
            return self._last_received + 1
        return self._position if self._position is not None else 0

    # -- lifecycle ------------------------------------------------------------------------
    async def run(self) -> None:
        """Dispatch records and checkpoint until :meth:`stop`; then commit what is complete."""
        try:
            async with asyncio.TaskGroup() as group:
                ticker = group.create_task(self._checkpoint_loop())
                while (record := await self._queue.get()) is not None:
                    task = group.create_task(self._process(record))
                    self._running.add(task)
                    task.add_done_callback(self._running.discard)
                await self._drain()
                # Never cancel the ticker: it may be inside a transaction. Let it commit and end.
                self._closing = True
                self._commit_due.set()
                await ticker
            await self._checkpoint()
        except* ProducerFenced:
            self.lost = True
            _log.warning("partition_fenced", topic=self.tp.topic, partition=self.tp.partition)
        finally:
            await self._producer.stop()
            self._finished.set()

    async def stop(self, grace_s: float) -> None:
        """Stop taking records, give in-flight runs ``grace_s`` to finish, commit, close."""
        if not self._stopping:
            self._stopping = True
            self._grace = grace_s
            self._queue.put_nowait(None)
        await self._finished.wait()

    async def _drain(self) -> None:
        if not self._running:
            return
        _done, pending = await asyncio.wait(set(self._running), timeout=self._grace)
        for task in pending:
            task.cancel()  # abandoned: stays outstanding, runs again under the next owner
        if pending:
            _log.warning(
                "runs_abandoned",
                topic=self.tp.topic,
                partition=self.tp.partition,
                count=len(pending),
            )
            await asyncio.wait(pending)

    # -- runs -----------------------------------------------------------------------------
    async def _process(self, record: ConsumedRecord) -> None:
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        key = record.key
        previous = self._tails.get(key) if key is not None else None
        if key is not None:
            self._tails[key] = mine
        try:
            if previous is not None:
                await previous  # same key: strictly after the earlier record
            async with self._slots:
                if self._stopping:
                    return  # abandoned before it started
                outcome = await execute_run(
                    self._deps,
                    record,
                    self._histories.pop(record.offset, RunHistory()),
                    self._write_journal,
                )
            self._complete(record.offset, outcome)
        finally:
            mine.set_result(None)  # successors must never wait forever, whatever happened here
            if key is not None and self._tails.get(key) is mine:
                del self._tails[key]

    def _complete(self, offset: int, outcome: RunOutcome) -> None:
        self._ready.extend(outcome.outputs)
        self._outstanding.discard(offset)
        self._completed.add(offset)
        self._first_journal.pop(offset, None)
        self._since_commit += 1
        runtime = self._deps.settings.agent
        # Adaptive checkpoints: an idle partition commits at once (an output does not wait for
        # the timer); a busy one keeps batching, because a record is always outstanding there
        # and completions pile up while the previous transaction commits (group commit).
        idle = runtime.checkpoint_adaptive and not self._outstanding
        first, self._first_run_pending = self._first_run_pending, False
        if idle or first or self._since_commit >= runtime.checkpoint_records:
            self._commit_due.set()

    async def _write_journal(self, record: JournalRecord) -> asyncio.Future[RecordMetadata]:
        journal = self._deps.journal
        if journal is None:  # pragma: no cover - exit mode never journals
            raise JournalUnavailable("no journal in exit mode")

        def acked(meta: RecordMetadata) -> None:
            self._journal_max_acked = max(meta.offset, self._journal_max_acked or -1)
            first = self._first_journal.get(record.offset)
            if record.offset in self._outstanding and (first is None or meta.offset < first):
                self._first_journal[record.offset] = meta.offset

        self._journal_pending += 1
        try:
            future = await journal.write(record, on_ack=acked)
        except LongboatError as e:
            self._journal_pending -= 1
            raise JournalUnavailable(f"cannot write the step journal: {e}") from e

        def settled(done: asyncio.Future[RecordMetadata]) -> None:
            self._journal_pending -= 1
            if not done.cancelled() and done.exception() is not None:
                self._journal_failed = done.exception()  # checked before the next commit

        future.add_done_callback(settled)
        return future

    # -- checkpoints ----------------------------------------------------------------------
    async def _checkpoint_loop(self) -> None:
        interval = self._deps.settings.agent.checkpoint_ms / 1000
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._commit_due.wait(), timeout=interval)
            self._commit_due.clear()
            await self._checkpoint()

    def _journal_floor(self) -> int | None:
        """The lowest journal offset a new owner must read from (never too high).

        Records still in flight have unknown offsets, so the floor only moves when none are.
        A run that has journalled nothing yet will write after everything acknowledged now.
        """
        if self._deps.journal is None or self._journal_pending:
            return self._floor
        candidates = [self._first_journal[o] for o in self._outstanding if o in self._first_journal]
        if self._journal_max_acked is not None:
            candidates.append(self._journal_max_acked + 1)
        elif self._floor is not None:
            candidates.append(self._floor)
        return min(candidates) if candidates else self._floor

    async def _checkpoint(self) -> None:
        try:
            await self._checkpoint_once()
        finally:
            self.settled.set()

    async def _checkpoint_once(self) -> None:
        async with self._commit_lock:
            if (
                self._deps.journal is not None
                and self._deps.agent.durability is not Durability.EXIT
            ):
                # async mode: journal records must be durable before the outputs that follow them.
                await self._deps.journal.flush()
            if self._journal_failed is not None:
                # Committing now could record runs complete whose steps were never journalled.
                raise JournalUnavailable(f"a journal write failed: {self._journal_failed}")
            if self._position is None and self._last_received is None:
                return  # nothing committed and nothing received: nothing to say yet
            position = self.commit_position()
            ahead = frozenset(o for o in self._completed if o >= position)
            if not self._ready and (position, ahead) == self._committed:
                return
            floor = self._journal_floor()
            outputs, self._ready = self._ready, []
            try:
                await self._commit(position, CheckpointMeta(ahead, floor), outputs)
            except ProducerFenced:
                self._deps.metrics.checkpoint(self._deps.agent.name, "fenced")
                raise
            except LongboatError as e:
                self._ready = outputs + self._ready  # nothing became visible: try again next time
                self._deps.metrics.checkpoint(self._deps.agent.name, "aborted")
                _log.warning(
                    "checkpoint_aborted",
                    topic=self.tp.topic,
                    partition=self.tp.partition,
                    error_type=type(e).__name__,
                    reason=str(e)[:300],
                )
                await self._producer.abort()
                return
            self._deps.faults.reached("checkpoint.after_commit")
            self._deps.metrics.checkpoint(self._deps.agent.name, "committed")
            self._committed = (position, ahead)
            self._position, self._floor = position, floor
            self._completed = {o for o in self._completed if o >= position}
            self._since_commit = 0

    async def _commit(
        self, position: int, meta: CheckpointMeta, outputs: list[OutputRecord]
    ) -> None:
        producer = self._producer
        await producer.begin()
        # Offsets first, then records: avoids an aiokafka sender race seen when offsets follow
        # many sends in one transaction (aiokafka issue 1004); inside a transaction the order
        # is not observable.
        await producer.send_offsets(
            {self.tp: position}, self._deps.group_id, metadata=meta.encode(position)
        )
        futures = [
            await producer.enqueue(
                o.topic, o.value, key=o.key, headers=o.headers, partition=o.partition
            )
            for o in outputs
        ]
        self._deps.faults.reached("checkpoint.before_commit")
        try:
            await producer.commit()
        finally:
            await asyncio.gather(*futures, return_exceptions=True)  # observe every send's outcome
