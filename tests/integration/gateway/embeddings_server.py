"""A local server speaking the OpenAI embeddings protocol, with deterministic vectors.

The allowed fake: no embeddings model can run here. A text's vector is a hashed bag of its
words (64 dimensions), after mapping a few synonyms onto one word, so "automobile" lands
where "car" does: semantic search finds what BM25 cannot, deterministically. The server
records every request's batch size and texts, and can be switched to answer 503 (an outage).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

from longboat.devinfra import free_port

DIMENSIONS = 64
_WORD = re.compile(r"\w+")
SYNONYMS = {"automobile": "car", "vehicle": "car", "physician": "doctor", "medic": "doctor"}


def embed(text: str) -> list[float]:
    """The hashed bag of words of ``text`` (synonyms folded)."""
    vector = [0.0] * DIMENSIONS
    for word in _WORD.findall(text.lower()):
        word = SYNONYMS.get(word, word)
        vector[hashlib.sha256(word.encode()).digest()[0] % DIMENSIONS] += 1.0
    return vector


@dataclass
class EmbeddingsServer:
    """What the server saw, and a switch for outages."""

    url: str = ""
    batches: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    failing: bool = False

    async def handle(self, request: web.Request) -> web.Response:
        """``POST /v1/embeddings``: ``{"model", "input": [...]}`` → ``{"data": [...]}``."""
        if self.failing:
            return web.json_response({"error": {"message": "overloaded"}}, status=503)
        body = await request.json()
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        self.batches.append(len(texts))
        self.texts.extend(texts)
        data = [
            {"object": "embedding", "index": i, "embedding": embed(t)} for i, t in enumerate(texts)
        ]
        return web.json_response({"object": "list", "data": data, "model": body["model"]})


@asynccontextmanager
async def embeddings_server() -> AsyncIterator[EmbeddingsServer]:
    """Serve on a free loopback port until the block ends; ``url`` is the ``/v1`` base."""
    server = EmbeddingsServer()
    app = web.Application()
    app.router.add_post("/v1/embeddings", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    server.url = f"http://127.0.0.1:{port}/v1"
    try:
        yield server
    finally:
        await runner.cleanup()
