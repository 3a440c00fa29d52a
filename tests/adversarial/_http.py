"""Raw HTTP for hostile requests: bytes and headers exactly as an attacker would send them."""

from __future__ import annotations

from typing import Any

import aiohttp

__all__ = ["send"]


async def send(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """``(status, parsed JSON or text)`` of one request; never raises on a status."""
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    if body is not None:
        sent.setdefault("Content-Type", "application/json")
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, url, data=body, headers=sent) as response,
    ):
        text = await response.text(errors="replace")
        try:
            return response.status, await response.json(content_type=None)
        except ValueError:
            return response.status, text
