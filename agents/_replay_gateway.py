"""The gateway as a replay sees it: reads pass through, side effects only when allowed."""

from __future__ import annotations

from typing import Any

from pydantic import JsonValue

from longboat.agents._governed import GatewayPort
from longboat.errors import TerminalError

__all__ = ["ReplayGateway", "ReplayRefused"]


class ReplayRefused(TerminalError):
    """A replay reached a call it must not make (a tool, a memory write, or no live source)."""

    code = "replay_refused"


class ReplayGateway:
    """Wraps the real gateway port (or none): tools and writes need an explicit allowance.

    Every refused call is remembered in :attr:`refused` as ``"tool:<name>"`` or
    ``"memory.put:<bank>/<key>"``: the intents a report shows.
    """

    def __init__(self, port: GatewayPort | None, *, allow_tools: bool, allow_writes: bool) -> None:
        """Wrap ``port``; ``allow_*`` let tools and memory writes through to it."""
        self._port = port
        self._allow_tools = allow_tools
        self._allow_writes = allow_writes
        self.refused: list[str] = []

    def _reader(self, what: str) -> GatewayPort:
        if self._port is None:
            self.refused.append(what)
            raise ReplayRefused(f"{what}: an offline replay has no gateway to ask")
        return self._port

    def _writer(self, what: str, allowed: bool, flag: str) -> GatewayPort:
        if not allowed or self._port is None:
            self.refused.append(what)
            raise ReplayRefused(f"{what}: refused in a replay (allow it with {flag})")
        return self._port

    async def memory_get(self, bank: str, key: str) -> JsonValue:
        """Read through the real gateway."""
        return await self._reader(f"memory.get:{bank}/{key}").memory_get(bank, key)

    async def memory_search(
        self,
        bank: str,
        query: str,
        limit: int = 10,
        *,
        scope: str | None = None,
        mode: str | None = None,
    ) -> list[dict[str, Any]]:
        """Search through the real gateway."""
        port = self._reader(f"memory.search:{bank}")
        return await port.memory_search(bank, query, limit, scope=scope, mode=mode)

    async def model_complete(
        self, request: JsonValue, *, idempotency_key: str, **context: str | None
    ) -> dict[str, Any]:
        """A model call through the real gateway (no effect on the world; accounted there)."""
        port = self._reader("model.complete")
        return await port.model_complete(request, idempotency_key=idempotency_key, **context)

    async def profile_get(self, key: str) -> JsonValue:
        """Read the profile through the real gateway."""
        return await self._reader(f"profile.get:{key}").profile_get(key)

    async def decide(
        self, policy: str, question: JsonValue, **context: str | None
    ) -> dict[str, Any]:
        """Ask the real gateway's policy (a question has no side effect)."""
        return await self._reader(f"policy:{policy}").decide(policy, question, **context)

    async def memory_put(self, bank: str, key: str, value: JsonValue, **context: str | None) -> int:
        """Write only when allowed."""
        port = self._writer(f"memory.put:{bank}/{key}", self._allow_writes, "--allow-memory-writes")
        return await port.memory_put(bank, key, value, **context)

    async def memory_delete(self, bank: str, key: str, **context: str | None) -> bool:
        """Delete only when allowed."""
        port = self._writer(
            f"memory.delete:{bank}/{key}", self._allow_writes, "--allow-memory-writes"
        )
        return await port.memory_delete(bank, key, **context)

    async def profile_read(self) -> dict[str, JsonValue]:
        """Read the whole profile through the real gateway."""
        return await self._reader("profile.read").profile_read()

    async def profile_put(self, key: str, value: JsonValue) -> int:
        """Write the profile only when allowed."""
        port = self._writer(f"profile.put:{key}", self._allow_writes, "--allow-memory-writes")
        return await port.profile_put(key, value)

    async def invoke(
        self, tool: str, arguments: JsonValue, *, idempotency_key: str, **context: str | None
    ) -> dict[str, Any]:
        """Call a tool only when allowed."""
        port = self._writer(f"tool:{tool}", self._allow_tools, "--allow-tools")
        return await port.invoke(tool, arguments, idempotency_key=idempotency_key, **context)
