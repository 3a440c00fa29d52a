"""A typed admin client: idempotent topic creation and group offset inspection."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any, Literal, Self

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError, for_code
from aiokafka.protocol.metadata import MetadataRequest
from aiokafka.structs import TopicPartition as AkTopicPartition

from longboat._settings import KafkaSettings
from longboat._topics import TopicSpec
from longboat.errors import TopicError
from longboat.kafka._client_config import client_kwargs
from longboat.kafka._errors import translate_kafka_errors
from longboat.kafka._records import CommittedOffset, TopicPartition

__all__ = ["Admin", "TopicOutcome"]

TopicOutcome = Literal["created", "exists"]


class Admin:
    """Cluster administration: create topics, list them, read a group's committed offsets."""

    def __init__(self, kafka: KafkaSettings) -> None:
        """Create an admin client; nothing connects until :meth:`start`."""
        self._servers = kafka.bootstrap_servers
        self._admin = AIOKafkaAdminClient(**client_kwargs(kafka))
        self._started = False

    async def start(self) -> None:
        """Connect to the cluster."""
        with translate_kafka_errors(self._servers):
            try:
                await self._admin.start()
            except BaseException:
                await self._admin.close()
                raise
        self._started = True

    async def stop(self) -> None:
        """Disconnect; safe to call twice."""
        if self._started:
            self._started = False
            await self._admin.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def broker_count(self) -> int:
        """How many brokers the cluster has."""
        with translate_kafka_errors(self._servers):
            cluster: dict[str, Any] = await self._admin.describe_cluster()
        return len(cluster.get("brokers", ())) or 1

    async def ensure_topics(
        self, specs: Sequence[TopicSpec], *, replication_factor: int | None = None
    ) -> dict[str, TopicOutcome]:
        """Create the topics that do not exist yet; existing ones are left as they are.

        Args:
            specs: The topics to ensure.
            replication_factor: Copies of each partition; default ``min(3, brokers)``.

        Raises:
            TopicError: The broker refused a topic (the message names it and why).
        """
        if not specs:
            return {}
        rf = replication_factor or min(3, await self.broker_count())
        # With three copies, require two in sync so that an acknowledged write survives a broker.
        isr = {"min.insync.replicas": "2"} if rf >= 3 else {}
        new = [NewTopic(s.name, s.partitions, rf, topic_configs={**isr, **s.config}) for s in specs]
        with translate_kafka_errors(self._servers):
            response = await self._admin.create_topics(new)
        outcomes: dict[str, TopicOutcome] = {}
        for entry in response.topic_errors:
            name, code = entry[0], entry[1]
            message = entry[2] if len(entry) > 2 else None
            error = for_code(code)
            if code == 0:
                outcomes[name] = "created"
            elif error is TopicAlreadyExistsError:
                outcomes[name] = "exists"
            else:
                raise TopicError(
                    f"cannot create topic {name}: {error.__name__}: {message or ''}".rstrip(": ")
                )
        created = [name for name, outcome in outcomes.items() if outcome == "created"]
        await self._until_visible(created)
        return outcomes

    async def _until_visible(self, names: Sequence[str], *, timeout_s: float = 15.0) -> None:
        """Wait until every broker serves metadata for ``names``.

        CreateTopics answers once the controller has the topic; each broker learns it a moment
        later. A caller that produces, subscribes or describes configs at once (any broker may
        answer) would otherwise see "does not exist", so every broker is asked, not just one.
        """
        pending = {node: set(names) for node in await self._broker_ids()}
        deadline = asyncio.get_running_loop().time() + timeout_s
        while any(pending.values()):
            for node, topics in pending.items():
                if topics:
                    topics -= await self._known_to(node, topics)
            if not any(pending.values()):
                return
            if asyncio.get_running_loop().time() > deadline:
                late = sorted(set().union(*pending.values()))
                raise TopicError(f"created topics not visible after {timeout_s:.0f} s: {late}")
            await asyncio.sleep(0.05)

    async def _broker_ids(self) -> list[int]:
        with translate_kafka_errors(self._servers):
            cluster: dict[str, Any] = await self._admin.describe_cluster()
        return [int(broker["node_id"]) for broker in cluster.get("brokers", ())]

    async def _known_to(self, node: int, topics: set[str]) -> set[str]:
        """Those of ``topics`` whose partitions broker ``node`` serves metadata for."""
        with translate_kafka_errors(self._servers):
            # The admin client asks a random broker; the per-node form is the same request.
            response = await self._admin._send_request(MetadataRequest(list(topics)), node)
        described: list[dict[str, Any]] = response.to_object()["topics"]
        return {
            t["topic"] for t in described if t.get("error_code", 0) == 0 and t.get("partitions")
        }

    async def topic_config(self, name: str) -> dict[str, str]:
        """The effective topic-level configs of ``name`` (``cleanup.policy``, ...).

        Raises:
            TopicError: The topic does not exist.
        """
        resource = ConfigResource(ConfigResourceType.TOPIC, name)
        with translate_kafka_errors(self._servers):
            responses = await self._admin.describe_configs([resource])
        config: dict[str, str] = {}
        for response in responses:
            for error_code, message, _type, _name, entries in response.resources:
                if error_code != 0:
                    error = for_code(error_code).__name__
                    raise TopicError(f"cannot describe topic {name}: {error}: {message or ''}")
                config.update({e[0]: e[1] for e in entries if e[1] is not None})
        return config

    async def partition_count(self, name: str) -> int:
        """How many partitions ``name`` has.

        Raises:
            TopicError: The topic does not exist.
        """
        count = (await self.partition_counts([name])).get(name)
        if count is None:
            raise TopicError(
                f"topic {name} does not exist (create it with `longboat topics create`)"
            )
        return count

    async def partition_counts(self, names: Iterable[str]) -> dict[str, int]:
        """The partition count of each of ``names`` that exists (missing ones are left out).

        One metadata request for just these topics, which never creates a missing one (a
        broker's ``auto.create.topics.enable`` would, with aiokafka's default request).
        """
        request = MetadataRequest(sorted(set(names)), allow_auto_topic_creation=False)
        with translate_kafka_errors(self._servers):
            # aiokafka's describe_topics offers no way to switch auto-creation off.
            response = await self._admin._send_request(request)
        described: list[dict[str, Any]] = response.to_object()["topics"]
        return {
            t["topic"]: len(t.get("partitions", ()))
            for t in described
            if t.get("error_code", 0) == 0
        }

    async def list_topics(self) -> set[str]:
        """Every topic name in the cluster."""
        with translate_kafka_errors(self._servers):
            names: list[str] = await self._admin.list_topics()
        return set(names)

    async def delete_topics(self, names: Iterable[str]) -> None:
        """Delete topics (tests and ``longboat dev`` clean-ups)."""
        with translate_kafka_errors(self._servers):
            await self._admin.delete_topics(list(names))

    async def group_offsets(self, group_id: str) -> dict[TopicPartition, int]:
        """The committed offsets of a consumer group, by partition."""
        with translate_kafka_errors(self._servers):
            raw = await self._admin.list_consumer_group_offsets(group_id)
        return {
            TopicPartition(tp.topic, tp.partition): meta.offset
            for tp, meta in raw.items()
            if meta.offset >= 0
        }

    async def committed(
        self, group_id: str, partitions: Iterable[TopicPartition]
    ) -> dict[TopicPartition, CommittedOffset]:
        """The group's committed offsets *with their metadata* for the given partitions."""
        raw_tps = [AkTopicPartition(tp.topic, tp.partition) for tp in partitions]
        with translate_kafka_errors(self._servers):
            raw = await self._admin.list_consumer_group_offsets(group_id, partitions=raw_tps)
        return {
            TopicPartition(tp.topic, tp.partition): CommittedOffset(
                meta.offset, meta.metadata or ""
            )
            for tp, meta in raw.items()
            if meta.offset >= 0
        }
