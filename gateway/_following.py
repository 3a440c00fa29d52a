"""One lifecycle for the gateway's stores that write a compacted topic and follow it."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from longboat.kafka import Producer, TopicFollower

__all__ = ["FollowingWriter"]


class FollowingWriter:
    """Starts ``self._producer`` then ``self._follower``; stops them in reverse order.

    The tool ledger, the tool catalogue and the model-usage ledger each write one compacted topic
    and follow it (so every gateway replica sees what the others recorded).
    """

    _producer: Producer
    _follower: TopicFollower[Any]

    async def __aenter__(self) -> Self:
        await self._producer.start()
        try:
            await self._follower.__aenter__()
        except BaseException:
            await self._producer.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._follower.__aexit__(exc_type, exc, tb)
        await self._producer.stop()
