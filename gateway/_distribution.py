"""Hot policy updates: follow ``lb.policies`` and load each new bundle into this gateway's OPA.

A bundle OPA refuses is rolled back (the previous one is loaded again) and reported with OPA's
message; the gateway keeps deciding with the previous policy. What a gateway runs is written to
``lb.policies`` under ``gateway/<instance>`` for ``longboat policy status``.

A swap (load, or rollback) runs inside :meth:`PolicyEngine.swapping`: OPA takes a bundle one
module per transaction, so decisions wait for the swap instead of seeing a mix of two bundles.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from types import TracebackType
from typing import Self

from longboat import KafkaSettings, get_logger, utc_now
from longboat.errors import LongboatError
from longboat.gateway._bundle import (
    POLICY_RECORDS,
    GatewayPolicyStatus,
    PolicyBundle,
    bundle_key,
    status_key,
)
from longboat.gateway._opa import PolicyEngine
from longboat.kafka import Consumer, Producer, TopicPartition

__all__ = ["PolicyDistributor"]

_log = get_logger("gateway.policies")
_MODULE_PREFIX = "bundle"
# data.longboat_gateway.bundle: the digest of the bundle loaded last, written after its modules.
# Checking it each second is a tiny GET; listing the modules (GET /v1/policies, ~100 kB of ASTs
# for the shipped bundle) stalled the event loop for milliseconds every second.
_LOADED_MARKER = "longboat_gateway/bundle"


class PolicyDistributor:
    """Keeps this gateway's OPA on the latest published bundle."""

    def __init__(
        self,
        kafka: KafkaSettings,
        topic: str,
        engine: PolicyEngine,
        *,
        instance: str,
        bundle: str = "longboat",
    ) -> None:
        """Create the distributor; ``async with`` starts following."""
        self._kafka = kafka
        self._topic = topic
        self._engine = engine
        self._instance = instance
        self._bundle_name = bundle
        self.active: PolicyBundle | None = None
        self.status: GatewayPolicyStatus | None = None
        self._producer = Producer(kafka, linger_ms=0)
        self._consumer: Consumer | None = None
        self._task: asyncio.Task[None] | None = None
        self.loaded = asyncio.Event()

    async def __aenter__(self) -> Self:
        await self._producer.start()
        self._consumer = Consumer(self._kafka, isolation_level="read_committed")
        await self._consumer.start()
        tp = TopicPartition(self._topic, 0)
        self._consumer.assign([tp])
        await self._consumer.seek_to_beginning([tp])
        self._task = asyncio.create_task(self._follow())  # owned; cancelled on exit
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
        await self._producer.stop()

    async def _follow(self) -> None:
        assert self._consumer is not None
        wanted = bundle_key(self._bundle_name)
        checked = 0.0
        while True:
            if self.active is not None and time.monotonic() - checked > 1.0:
                checked = time.monotonic()
                await self._ensure_loaded(self.active)
            latest: PolicyBundle | None = None
            for record in await self._consumer.poll(timeout_ms=100):
                # Junk (even under our key) is skipped and logged by the codec: the active
                # bundle stays, as it does for a bundle OPA refuses.
                if record.key == wanted and isinstance(
                    value := POLICY_RECORDS.decode(record), PolicyBundle
                ):
                    latest = value
            if latest is not None and (self.active is None or latest.digest != self.active.digest):
                await self.apply(latest)

    async def _ensure_loaded(self, bundle: PolicyBundle) -> None:
        """Reload the active bundle if OPA lost it (a restarted sidecar starts empty)."""
        try:
            loaded = await self._engine.get_data(_LOADED_MARKER)
        except LongboatError:
            return  # OPA is down: decisions fail closed until it is back
        if loaded != bundle.digest:
            _log.warning(
                "policy_bundle_reloading", digest=bundle.digest, reason="OPA lost the policy"
            )
            with contextlib.suppress(LongboatError):
                async with self._engine.swapping():
                    await self._load(bundle)

    async def apply(self, bundle: PolicyBundle) -> bool:
        """Load ``bundle`` into OPA; on refusal restore the previous one. Returns success."""
        # One swap, rollback included: no decision sees a mix of two bundles' modules.
        async with self._engine.swapping():
            refused = await self._swap(bundle)
        if refused is not None:
            await self._report(bundle.digest, ok=False, error=str(refused))
            return False
        previous = self.active
        self.active = bundle
        self.loaded.set()
        _log.info(
            "policy_bundle_loaded",
            digest=bundle.digest,
            previous=previous.digest if previous else None,
        )
        await self._report(bundle.digest, ok=True, error=None)
        return True

    async def _swap(self, bundle: PolicyBundle) -> LongboatError | None:
        """Load ``bundle``, or restore the active one if OPA refuses it (the refusal returned)."""
        try:
            await self._load(bundle)
        except LongboatError as e:
            _log.error("policy_bundle_refused", digest=bundle.digest, reason=str(e)[:500])
            if self.active is not None:
                with contextlib.suppress(LongboatError):
                    await self._load(self.active)
            return e
        return None

    async def _load(self, bundle: PolicyBundle) -> None:
        for path, value in bundle.data.items():
            await self._engine.put_data(path, value)
        wanted = {f"{_MODULE_PREFIX}/{path}": text for path, text in bundle.modules.items()}
        for module_id, text in wanted.items():
            await self._engine.put_module(module_id, text)
        for module_id in await self._engine.modules():
            if module_id.startswith(f"{_MODULE_PREFIX}/") and module_id not in wanted:
                await self._engine.delete_module(module_id)
        await self._engine.put_data(_LOADED_MARKER, bundle.digest)  # last: the whole bundle is in

    async def _report(self, digest: str, *, ok: bool, error: str | None) -> None:
        running = self.active.digest if self.active else None
        self.status = GatewayPolicyStatus(
            gateway=self._instance,
            bundle=self._bundle_name,
            digest=running,
            loaded_at=utc_now(),
            ok=ok,
            error=None if ok else f"refused {digest}: {error}",
        )
        with contextlib.suppress(LongboatError):  # status is informational: never fail on it
            await self._producer.send(
                self._topic, POLICY_RECORDS.encode(self.status), key=status_key(self._instance)
            )
