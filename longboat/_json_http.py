"""A JSON-over-HTTP client base for Longboat's own services (registry, gateway)."""

from __future__ import annotations

from types import TracebackType
from typing import Any, ClassVar, Self

import aiohttp

from longboat._tracing import trace_headers
from longboat.errors import RetryableError

__all__ = ["JsonHttpClient"]


class JsonHttpClient:
    """One aiohttp session to one base URL; subclasses map statuses to their errors.

    ``unavailable`` is raised when the service does not answer, answers something that is not
    JSON, or answers 5xx: the caller may retry.
    """

    unavailable: ClassVar[type[RetryableError]] = RetryableError
    service: ClassVar[str] = "service"

    def __init__(self, base_url: str, *, timeout_s: float) -> None:
        """Create a client; the session opens on ``async with``."""
        self._base = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        bearer: str | None = None,
    ) -> tuple[int, Any]:
        """``(status, JSON payload)`` of one request; 5xx or no answer raise ``unavailable``."""
        assert self._session is not None, f"use `async with {type(self).__name__}(...)`"
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        headers.update(trace_headers())  # the calling step's span continues at the service
        try:
            async with self._session.request(
                method, self._base + path, json=body, headers=headers
            ) as response:
                payload = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            raise self.unavailable(
                f"{self.service} at {self._base} did not answer: {type(e).__name__}: {e}"
            ) from e
        if status >= 500:
            raise self.unavailable(f"{self.service} at {self._base} answered {status}: {payload}")
        return status, payload
