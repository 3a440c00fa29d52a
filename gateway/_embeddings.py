"""Optional semantic search: vectors from an OpenAI-compatible ``POST {base_url}/embeddings``.

BM25 (``gateway/_index.py``) stays the default and needs nothing running. With
``LONGBOAT_GATEWAY__EMBEDDINGS__BASE_URL`` set, every item the gateway materialises is also
embedded, in the background: :class:`Embedder` keeps one pending text per item (a newer
revision replaces an older one still waiting), sends them in batches of ``batch_size`` with at
most ``concurrency`` requests in flight, and hands each vector to the index, which keeps it
only if the item still holds the text it was computed from. The rebuild on start therefore
never holds up the gateway: it serves BM25 at once and semantic results as vectors arrive.

An endpoint that fails is retried with a capped backoff; nothing is lost meanwhile (the texts
stay pending). A semantic query needs the endpoint at query time too (its own vector): when it
does not answer, the search fails with 503 ``embeddings_unavailable`` and BM25 still works.
"""

from __future__ import annotations

import asyncio
import math
from array import array
from collections.abc import Callable
from types import TracebackType
from typing import Self, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from longboat import JsonHttpClient, describe_errors, get_logger
from longboat.errors import RetryableError, UsageError

__all__ = [
    "Embedder",
    "EmbeddingsClient",
    "EmbeddingsNotConfigured",
    "EmbeddingsSettings",
    "EmbeddingsUnavailable",
    "Vector",
]

_log = get_logger("gateway.embeddings")

Vector: TypeAlias = "array[float]"
"""A unit-length ``array('f')``: the cosine of two is their dot product."""
# After a failed batch: wait this long, doubling up to the cap (the endpoint may be restarting).
_FIRST_BACKOFF_S = 0.5
_MAX_BACKOFF_S = 30.0
# A text longer than this is cut before it is sent: endpoints refuse over-long inputs.
_MAX_TEXT_CHARS = 8000


class EmbeddingsSettings(BaseModel):
    """The embeddings endpoint (``LONGBOAT_GATEWAY__EMBEDDINGS__<FIELD>``); off when no URL."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = Field(
        default="", description='"" = no semantic search; e.g. http://127.0.0.1:8000/v1'
    )
    model: str = Field(default="text-embedding-3-small", min_length=1)
    api_key: SecretStr | None = None
    timeout_s: float = Field(default=10.0, gt=0, le=600)
    batch_size: int = Field(default=64, ge=1, le=2048, description="texts per request")
    concurrency: int = Field(default=2, ge=1, le=16, description="requests in flight")
    include_pii: bool = Field(
        default=False,
        description="also send memories holding personal data to the endpoint (a third party)",
    )


class EmbeddingsUnavailable(RetryableError):
    """The embeddings endpoint did not answer, or answered something unusable."""

    code = "embeddings_unavailable"


class EmbeddingsNotConfigured(UsageError):
    """Semantic search was asked of a gateway without an embeddings endpoint."""

    code = "embeddings_not_configured"


class _Datum(BaseModel):
    # A third-party answer: unknown fields are ignored, the two we read are checked.
    model_config = ConfigDict(frozen=True, extra="ignore")

    index: int = Field(ge=0)
    embedding: list[float] = Field(min_length=1)


class _EmbeddingsAnswer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    data: list[_Datum]


def unit_vector(values: list[float]) -> Vector:
    """``values`` scaled to length 1 (a zero vector stays zero: it matches nothing)."""
    norm = math.sqrt(sum(v * v for v in values))
    return array("f", (v / norm for v in values) if norm else values)


class EmbeddingsClient(JsonHttpClient):
    """``async with EmbeddingsClient(settings) as client: await client.embed(texts)``."""

    unavailable = EmbeddingsUnavailable
    service = "embeddings endpoint"

    def __init__(self, settings: EmbeddingsSettings) -> None:
        """Create the client (the session opens on ``async with``)."""
        super().__init__(settings.base_url, timeout_s=settings.timeout_s)
        self._model = settings.model
        self._key = settings.api_key.get_secret_value() if settings.api_key else None

    async def embed(self, texts: list[str]) -> list[Vector]:
        """One unit vector per text, in order.

        Raises:
            EmbeddingsUnavailable: No answer, an error status, or not an embeddings answer.
        """
        body = {"model": self._model, "input": [t[:_MAX_TEXT_CHARS] or " " for t in texts]}
        status, payload = await self.request("POST", "/embeddings", body=body, bearer=self._key)
        if status >= 400:
            raise EmbeddingsUnavailable(f"{self.service} {self._base} answered {status}: {payload}")
        try:
            data = _EmbeddingsAnswer.model_validate(payload).data
        except ValidationError as e:
            raise EmbeddingsUnavailable(
                f"{self.service} {self._base} answered no embeddings: {describe_errors(e)}"
            ) from e
        by_index = {d.index: d.embedding for d in data}
        if sorted(by_index) != list(range(len(texts))):
            raise EmbeddingsUnavailable(
                f"{self.service} {self._base} answered {len(data)} embeddings for {len(texts)} "
                "texts"
            )
        return [unit_vector(by_index[i]) for i in range(len(texts))]


ItemKey = tuple[str, str]
# Hands a vector to the index: (bank, key, text it was computed from, vector).
Store = Callable[[str, str, str, Vector], None]


class Embedder:
    """Embeds materialised items in the background, batched and bounded (see the module)."""

    def __init__(self, settings: EmbeddingsSettings, store: Store) -> None:
        """Create the embedder; ``store`` receives each vector (on the event loop)."""
        self._settings = settings
        self._store = store
        self._client = EmbeddingsClient(settings)
        self._pending: dict[ItemKey, str] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """How many items wait for their vector."""
        return len(self._pending)

    async def __aenter__(self) -> Self:
        await self._client.__aenter__()
        # Owned by this context: cancelled and awaited in __aexit__, never orphaned.
        self._task = asyncio.create_task(self._run(), name="memory-embeddings")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._client.__aexit__(exc_type, exc, tb)

    def note(self, bank: str, key: str, text: str) -> None:
        """``bank/key`` now holds ``text``: embed it (replacing a pending older text)."""
        self._pending[bank, key] = text
        self._wake.set()

    def forget(self, bank: str, key: str) -> None:
        """``bank/key`` is gone: do not embed it."""
        self._pending.pop((bank, key), None)

    async def query(self, text: str) -> Vector:
        """The vector of a search query (asked now: the caller waits for it)."""
        [vector] = await self._client.embed([text])
        return vector

    async def _run(self) -> None:
        backoff = _FIRST_BACKOFF_S
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                if await self._round():
                    backoff = _FIRST_BACKOFF_S
                    continue
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)

    async def _round(self) -> bool:
        """Embed up to ``concurrency`` batches at once; False if any failed."""
        size, lanes = self._settings.batch_size, self._settings.concurrency
        taken = list(self._pending.items())[: size * lanes]
        batches = [taken[i : i + size] for i in range(0, len(taken), size)]
        results = await asyncio.gather(*(self._batch(b) for b in batches))
        return all(results)

    async def _batch(self, batch: list[tuple[ItemKey, str]]) -> bool:
        try:
            vectors = await self._client.embed([text for _, text in batch])
        except EmbeddingsUnavailable as e:
            _log.warning("embeddings_failed", items=len(batch), error=str(e))
            return False
        for ((bank, key), text), vector in zip(batch, vectors, strict=True):
            # Only if nothing newer arrived meanwhile: a newer text stays pending.
            if self._pending.get((bank, key)) == text:
                del self._pending[bank, key]
            self._store(bank, key, text, vector)
        return True
