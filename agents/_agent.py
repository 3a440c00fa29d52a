"""An agent definition: its name, inputs, handler and durability options."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from pydantic import JsonValue, ValidationError

from longboat import Envelope, TopicNames, describe_errors, validate_agent_name
from longboat.agents._checkpoint_meta import MAX_UNCOMMITTED
from longboat.agents._context import Context
from longboat.agents._options import Durability, RetryPolicy
from longboat.errors import ConfigError
from longboat.kafka import TopicPartition

__all__ = ["Agent", "Handler", "PartitionHook"]

Handler = Callable[[Context, Envelope], Awaitable[JsonValue]]
PartitionHook = Callable[[TopicPartition], Awaitable[None]]


class Agent:
    """A specialist agent: a consumer group running ``handler`` once per input record.

    Example::

        triage = Agent("triage", topics=["claims.submitted"], durability="sync")

        @triage.handler
        async def handle(ctx: Context, event: Envelope) -> JsonValue:
            answer = await ctx.llm(f"Classify: {event.data}")
            return {"label": answer.text}
    """

    def __init__(
        self,
        name: str,
        *,
        topics: Sequence[str] = (),
        tasks: bool = True,
        durability: Durability | str = Durability.SYNC,
        max_in_flight: int = 8,
        retry: RetryPolicy | None = None,
        version: str = "0.1.0",
        handler: Handler | None = None,
        on_assigned: PartitionHook | None = None,
        on_revoked: PartitionHook | None = None,
    ) -> None:
        """Define an agent (nothing runs until ``longboat run agent``).

        Args:
            name: Lower-case name; it names the agent's topics and consumer group.
            topics: Input topics besides the agent's task topic.
            tasks: Also consume ``lb.tasks.<name>`` (coordinator tasks).
            durability: ``sync``, ``async`` or ``exit`` (docs/agents.md).
            max_in_flight: Records of one partition processed concurrently (different keys).
            retry: The default step retry policy.
            version: The agent's version, reported to the registry.
            handler: The handler, or set it later with the :meth:`handler` decorator.
            on_assigned: Awaited when this process takes over a partition, before its records
                run (e.g. to load state kept per partition).
            on_revoked: Awaited after a partition's runs have stopped and its offsets are committed.

        Raises:
            ConfigError: An option is invalid; the message says how to fix it.
        """
        self.name = validate_agent_name(name)
        try:
            self.durability = Durability(durability)
        except ValueError as e:
            raise ConfigError(
                f"agent {name}: durability {durability!r} must be sync, async or exit"
            ) from e
        if not 1 <= max_in_flight <= MAX_UNCOMMITTED // 4:
            raise ConfigError(
                f"agent {name}: max_in_flight={max_in_flight} must be 1..{MAX_UNCOMMITTED // 4}"
            )
        if not topics and not tasks:
            raise ConfigError(f"agent {name}: give input topics, or leave tasks=True")
        self.topics = tuple(topics)
        self.tasks = tasks
        self.max_in_flight = max_in_flight
        try:
            self.retry = retry if retry is not None else RetryPolicy()
        except ValidationError as e:  # pragma: no cover - RetryPolicy validates itself
            raise ConfigError(f"agent {name}: retry: {describe_errors(e)}") from e
        self.version = version
        self._handler = handler
        self.on_assigned = on_assigned
        self.on_revoked = on_revoked

    def handler(self, fn: Handler) -> Handler:
        """Decorator that sets the agent's handler."""
        self._handler = fn
        return fn

    @property
    def handle(self) -> Handler:
        """The handler.

        Raises:
            ConfigError: None was set.
        """
        if self._handler is None:
            raise ConfigError(f"agent {self.name} has no handler: decorate one with @agent.handler")
        return self._handler

    def input_topics(self, names: TopicNames) -> list[str]:
        """Every topic the agent consumes."""
        return [*self.topics, names.tasks(self.name)] if self.tasks else list(self.topics)

    def group_id(self, names: TopicNames) -> str:
        """The consumer group (and transactional-id namespace) of this agent."""
        return f"{names.prefix}agent.{self.name}"
