"""Mission Control's operations feeds: what gateways run, registry changes, budget spend.

Three compacted topics are followed from the console's start, like the registry view: every
gateway's policy status (``lb.policies``), model usage (``lb.models.usage``) and the registry
(``lb.registry``), so the pages answer from memory and the live stream learns of a change
without polling Kafka per open page. Registry *changes* are derived by comparing each record
with the one before it for the same agent; heartbeats change no field compared, so they are
not changes. The topics are compacted: changes older than the last compaction are gone, and
an agent first seen past its first revision is a baseline, not an enrolment.
"""

from __future__ import annotations

from collections import deque
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Self, TypeVar

from aiohttp import web

from longboat import KafkaSettings, TopicNames, answer, get_logger, utc_now
from longboat.coordinator._console_ops_api import (
    BudgetsAnswer,
    GatewayRow,
    PolicyStatusAnswer,
    PublishedBundle,
    RegistryChange,
    RegistryChangeKind,
    RegistryChangeList,
)
from longboat.errors import ConfigError, TopicError
from longboat.gateway import (
    DEFAULT_WARN_AT,
    MODEL_USAGE,
    POLICY_RECORDS,
    ModelsPolicyData,
    ModelUsage,
    PolicyBundle,
    PolicyRecord,
    budget_report,
    warn_at_of,
)
from longboat.kafka import Decoded, TopicFollower
from longboat.registry import AGENT_RECORDS, AgentRecord

__all__ = ["ConsoleFeeds", "registry_changes"]

M = TypeVar("M")
_log = get_logger("coordinator.console")
_CHANGES_KEPT = 200
_BUDGET_BUNDLE = "longboat"  # the bundle whose data holds longboat/models (policy publish default)


def registry_changes(before: AgentRecord | None, after: AgentRecord | None) -> list[RegistryChange]:
    """What an operator changed between two records of one agent (heartbeats change nothing).

    ``after`` None is a tombstone. A first record past revision 1 means earlier records were
    compacted away: nothing can be said about what changed, so nothing is reported.
    """
    if after is None:
        if before is None:
            return []
        return [RegistryChange(time=utc_now(), agent_id=before.agent_id, kind="removed", detail="")]
    if before is None and after.revision > 1:
        return []
    old = before.versions if before is not None else {}
    found: list[RegistryChange] = []
    kind: RegistryChangeKind
    for version, entry in sorted(after.versions.items()):
        previous = old.get(version)
        if previous is None:
            kind, detail = "enrolled", f"{entry.status}, owner {after.owner}"
        elif {k.kid for k in entry.keys} != {k.kid for k in previous.keys}:
            kind, detail = "key_rotated", f"{len(entry.keys)} keys"
        elif entry.status != previous.status:
            kind, detail = "status_changed", f"{previous.status} → {entry.status}"
        else:
            continue
        found.append(
            RegistryChange(
                time=after.updated_at,
                agent_id=after.agent_id,
                version=version,
                kind=kind,
                detail=detail,
            )
        )
    return found


class ConsoleFeeds:
    """Follows ``lb.policies``, ``lb.models.usage`` and ``lb.registry`` for the console."""

    def __init__(self, kafka: KafkaSettings, names: TopicNames) -> None:
        """Create the feeds; ``async with`` reads the topics and keeps following them."""
        self._kafka = kafka
        self._names = names
        self._policies: dict[str, PolicyRecord] = {}
        self._usage: dict[str, ModelUsage] = {}
        self._agents: dict[str, AgentRecord] = {}
        self._changes: deque[RegistryChange] = deque(maxlen=_CHANGES_KEPT)
        self._applied = 0  # records applied: part of the live stream's fingerprint
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Self:
        names, kafka = self._names, self._kafka
        await self._follow(TopicFollower(kafka, names.policies, POLICY_RECORDS, self._policy))
        await self._follow(TopicFollower(kafka, names.models_usage, MODEL_USAGE, self._use))
        await self._follow(TopicFollower(kafka, names.registry, AGENT_RECORDS, self._registry))
        return self

    async def _follow(self, follower: TopicFollower[M]) -> None:
        try:
            await self._stack.enter_async_context(follower)
        except TopicError as e:
            # A fleet without gateways has no policy or usage topics: those views stay
            # empty, and the rest of Mission Control still runs.
            _log.warning("console_feed_unavailable", topic=follower.topic, reason=str(e))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    def fingerprint(self) -> str:
        """Changes whenever a followed record arrives (policies, spend, registry)."""
        return str(self._applied)

    def routes(self) -> list[web.RouteDef]:
        """The feeds' console routes (behind the console's gate)."""
        return [
            web.get("/v1/gateways", self._gateways),
            web.get("/v1/registry/changes", self._registry_changes),
            web.get("/v1/budgets", self._budgets),
        ]

    # -- following ------------------------------------------------------------------------
    def _policy(self, item: Decoded[PolicyRecord]) -> None:
        self._applied += 1
        if item.value is None:
            self._policies.pop(item.key, None)
        else:
            self._policies[item.key] = item.value

    def _use(self, item: Decoded[ModelUsage]) -> None:
        self._applied += 1
        if item.value is not None:
            # Spend is all the console reads: the recorded answers (most of each record's
            # bytes) are dropped so that the view stays small beside the gateways' ledgers.
            answer = item.value.answer.model_copy(update={"text": ""})
            self._usage[item.key] = item.value.model_copy(update={"answer": answer})

    def _registry(self, item: Decoded[AgentRecord]) -> None:
        self._applied += 1
        before = self._agents.get(item.key)
        self._changes.extend(registry_changes(before, item.value))
        if item.value is None:
            self._agents.pop(item.key, None)
        else:
            self._agents[item.key] = item.value

    # -- answers ----------------------------------------------------------------------------
    def _bundles(self) -> dict[str, PolicyBundle]:
        return {r.name: r for r in self._policies.values() if isinstance(r, PolicyBundle)}

    async def _gateways(self, _: web.Request) -> web.Response:
        bundles = self._bundles()
        rows = [
            GatewayRow(
                gateway=r.gateway,
                bundle=r.bundle,
                digest=r.digest,
                loaded_at=r.loaded_at,
                ok=r.ok,
                error=r.error,
                current=r.bundle in bundles and bundles[r.bundle].digest == r.digest,
            )
            for r in self._policies.values()
            if not isinstance(r, PolicyBundle)
        ]
        published = [
            PublishedBundle(name=b.name, digest=b.digest, published_at=b.published_at)
            for b in bundles.values()
        ]
        return answer(
            PolicyStatusAnswer(
                published=sorted(published, key=lambda b: b.name),
                gateways=sorted(rows, key=lambda g: (g.bundle, g.gateway)),
            )
        )

    async def _registry_changes(self, _: web.Request) -> web.Response:
        newest_first = sorted(self._changes, key=lambda c: c.time, reverse=True)
        return answer(RegistryChangeList(changes=newest_first))

    async def _budgets(self, _: web.Request) -> web.Response:
        bundle = self._bundles().get(_BUDGET_BUNDLE)
        if bundle is None:
            return answer(
                BudgetsAnswer(
                    warn_at=DEFAULT_WARN_AT,
                    bundle_digest=None,
                    budgets=[],
                    problem="no policy bundle is published (longboat policy publish policies/)",
                )
            )
        try:
            data = ModelsPolicyData.of_bundle(bundle.data.get("longboat/models"))
        except ConfigError as e:
            return answer(
                BudgetsAnswer(
                    warn_at=DEFAULT_WARN_AT, bundle_digest=bundle.digest, budgets=[], problem=str(e)
                )
            )
        report = budget_report(self._usage.values(), data, utc_now())
        return answer(
            BudgetsAnswer(warn_at=warn_at_of(data), bundle_digest=bundle.digest, budgets=report)
        )
