"""A registry service on a free port for the adversarial tests (the real one, real Kafka)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from longboat import Settings, TopicNames
from longboat.errors import TopicError
from longboat.kafka import Admin
from longboat.registry import RegistryService, RegistrySettings
from longboat.registry._settings import RegistryServiceSettings
from tests.helpers import assert_eventually

__all__ = ["OPERATOR", "ensure_topics", "registry_service"]

OPERATOR = "operator-token-for-adversarial-tests-0123"


async def ensure_topics(settings: Settings) -> None:
    """Create this test's system topics and wait until the broker describes them."""
    names = TopicNames(settings.topic_prefix)
    async with Admin(settings.kafka) as admin:
        await admin.ensure_topics(names.system_topics(partitions=1))

        async def described() -> bool:
            try:
                return await admin.partition_count(names.registry) > 0
            except TopicError:  # created, but its metadata has not reached the broker yet
                return False

        await assert_eventually(described, bool, what=f"{names.registry} described")


@contextlib.asynccontextmanager
async def registry_service(settings: Settings) -> AsyncIterator[RegistryService]:
    """Serve the registry until the block ends."""
    service_settings = RegistrySettings(
        kafka=settings.kafka,
        topic_prefix=settings.topic_prefix,
        operator_token=OPERATOR,  # type: ignore[arg-type]
        registry=RegistryServiceSettings(port=0),
    )
    async with RegistryService(service_settings) as service:
        task = asyncio.create_task(service.run())
        try:
            yield service
        finally:
            service.shutdown()
            await task
