"""Model usage accounting: one record per LLM step on the compacted ``lb.models.usage`` topic.

Invariants:

- The record key is ``agent/idempotency_key`` (the calling step's fingerprint), so a step that
  is re-run after a crash (in doubt: started, never journalled as completed) finds its record
  and gets the recorded answer: each LLM step is called and counted once, replays included.
- A record is durable (acknowledged) before the agent gets the answer: a gateway that dies
  after the provider answered but before the write loses one answer, never an account entry
  for an answer the agent acted on.
- Every gateway follows the topic, so spend counts against a budget whichever gateway served
  the call; there is no second database.
- Windows are tumbling and aligned to the Unix epoch (``floor(now / window_s)``): every gateway
  agrees on where a window starts without coordinating. The clock is injected, so tests turn
  a window without sleeping.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from longboat import KafkaSettings, RecordCodec, describe_errors, utc_now
from longboat.errors import ConfigError
from longboat.gateway._decision import BudgetFact
from longboat.gateway._following import FollowingWriter
from longboat.kafka import Decoded, Producer, TopicFollower
from longboat.llm import LLMResponse

__all__ = [
    "MODEL_USAGE",
    "BudgetSpec",
    "ModelUsage",
    "ModelsPolicyData",
    "UsageLedger",
    "usage_key",
    "window_bounds",
]

Clock = Callable[[], datetime]
_WINDOWS = {"hour": 3600, "day": 86_400}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ModelUsage(_Frozen):
    """One LLM call as accounted: who, for what, how much, and the recorded answer."""

    agent: str
    version: str
    owner: str
    workflow_id: str | None = None
    run_id: str | None = None
    idempotency_key: str
    model: str
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    cost: float = Field(ge=0)
    time: datetime
    decision_id: str
    answer: LLMResponse


MODEL_USAGE: RecordCodec[ModelUsage] = RecordCodec(ModelUsage)
"""The serde of ``lb.models.usage`` values (key: :func:`usage_key`)."""


def usage_key(agent: str, idempotency_key: str) -> str:
    """The record key of one LLM step. Never change this format: replays look records up by it.

    Scoped per agent: one agent can never read another's recorded answers.
    """
    return f"{agent}/{idempotency_key}"


class BudgetSpec(BaseModel):
    """One budget of ``data.longboat.models.budgets`` (limits are read by the policy).

    ``window``: ``hour``, ``day``, ``workflow`` (per workflow run) or a number of seconds.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    window: Literal["hour", "day", "workflow"] | int
    max_tokens: int | None = Field(default=None, ge=0)
    max_cost: float | None = Field(default=None, ge=0)


class ModelsPolicyData(BaseModel):
    """The shape of ``policies/longboat/models/data.json`` the gateway reads (windows only)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    budgets: dict[str, BudgetSpec] = {}

    @classmethod
    def of_bundle(cls, data: object) -> ModelsPolicyData:
        """Parse the bundle's ``longboat/models`` data (absent: no budgets).

        Raises:
            ConfigError: The data is malformed (names the file and field).
        """
        try:
            return cls.model_validate(data or {})
        except ValidationError as e:
            raise ConfigError(
                f"policies/longboat/models/data.json: {describe_errors(e)}; a budget needs "
                '"window": "hour", "day", "workflow" or a number of seconds'
            ) from e


class _Spend:
    __slots__ = ("cost", "tokens")

    def __init__(self) -> None:
        self.tokens = 0
        self.cost = 0.0


class UsageLedger(FollowingWriter):
    """Follows ``lb.models.usage``: recorded answers by key, and spend per agent and workflow."""

    def __init__(self, kafka: KafkaSettings, topic: str, *, clock: Clock = utc_now) -> None:
        """Create the ledger; ``async with`` loads the topic and keeps following it."""
        self._topic = topic
        self._clock = clock
        self._records: dict[str, ModelUsage] = {}
        self._by_agent: dict[str, list[ModelUsage]] = defaultdict(list)
        self._by_workflow: dict[tuple[str, str], _Spend] = defaultdict(_Spend)
        self._inflight: dict[str, asyncio.Future[ModelUsage]] = {}
        self._producer = Producer(kafka, linger_ms=0)
        self._follower = TopicFollower(kafka, topic, MODEL_USAGE, self._apply)

    def now(self) -> datetime:
        """The ledger's clock (injected in tests)."""
        return self._clock()

    def _apply(self, record: Decoded[ModelUsage]) -> None:
        usage = record.value
        if usage is not None:  # tombstones are never written
            self._count(record.key, usage)

    def _count(self, key: str, usage: ModelUsage) -> None:
        if key in self._records:
            return  # our own write coming back through the follower: counted already
        self._records[key] = usage
        self._by_agent[usage.agent].append(usage)
        if usage.workflow_id:
            spend = self._by_workflow[usage.agent, usage.workflow_id]
            spend.tokens += usage.input_tokens + usage.output_tokens
            spend.cost += usage.cost

    def recorded(self, key: str) -> ModelUsage | None:
        """The accounted call under ``key``, if it completed."""
        return self._records.get(key)

    def usage(
        self, agent: str, workflow_id: str | None, budgets: dict[str, BudgetSpec]
    ) -> list[BudgetFact]:
        """The spend of every budget's current window for ``agent`` (and its workflow run)."""
        now = self._clock()
        found = []
        for name, spec in sorted(budgets.items()):
            if spec.window == "workflow":
                if workflow_id is None:
                    continue
                spend = self._by_workflow.get((agent, workflow_id), _Spend())
                found.append(
                    BudgetFact(budget=name, window_s=None, tokens=spend.tokens, cost=spend.cost)
                )
                continue
            size = _WINDOWS[spec.window] if isinstance(spec.window, str) else spec.window
            start, end = window_bounds(now, size)
            tokens, cost = 0, 0.0
            for usage in self._by_agent.get(agent, []):
                if start <= usage.time < end:
                    tokens += usage.input_tokens + usage.output_tokens
                    cost += usage.cost
            found.append(
                BudgetFact(budget=name, window_s=size, tokens=tokens, cost=cost, resets_at=end)
            )
        return found

    async def once(
        self, key: str, call: Callable[[], Awaitable[ModelUsage]]
    ) -> tuple[ModelUsage, bool]:
        """The recorded usage of ``key``, or ``call()``'s, written before it is returned.

        Returns:
            The usage and whether this request called the model.
        """
        if (usage := self._records.get(key)) is not None:
            return usage, False
        if (pending := self._inflight.get(key)) is not None:
            return await asyncio.shield(pending), False  # a concurrent retry shares the call
        future: asyncio.Future[ModelUsage] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            usage = await call()
            # Durable before answered (see the module docstring).
            await self._producer.send(self._topic, MODEL_USAGE.encode(usage), key=key.encode())
            self._count(key, usage)
            future.set_result(usage)
            return usage, True
        except BaseException as e:
            future.set_exception(e)
            future.exception()  # retrieved: waiters re-raise it
            raise
        finally:
            del self._inflight[key]


def window_bounds(now: datetime, size_s: int) -> tuple[datetime, datetime]:
    """The tumbling window of ``size_s`` seconds holding ``now`` (aligned to the epoch)."""
    seconds = int(now.timestamp())
    start = datetime.fromtimestamp(seconds - seconds % size_s, tz=UTC)
    return start, start + timedelta(seconds=size_s)
