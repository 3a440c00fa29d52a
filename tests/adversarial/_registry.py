"""A registry service on a free port for the adversarial tests (the real one, real Kafka)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from longboat import Settings, TopicNames
from longboat.kafka import Admin
from longboat.registry import RegistryService, RegistrySettings
from longboat.registry._settings import RegistryServiceSettings

__all__ = ["OPERATOR", "ensure_topics", "registry_service"]

OPERATOR = "operator-token-for-adversarial-tests-0123"


async def ensure_topics(settings: Settings) -> None:
    """Create this test's system topics."""
    async with Admin(settings.kafka) as admin:
        await admin.ensure_topics(TopicNames(settings.topic_prefix).system_topics(partitions=1))


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
