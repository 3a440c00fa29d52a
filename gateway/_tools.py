"""Registered tools, invoked only through the gateway, at most once per idempotency key.

Tools are declared in a JSON file (``LONGBOAT_GATEWAY__TOOLS_FILE``)::

    {"tools": {
        "weather":  {"kind": "http", "url": "http://weather.internal/v1/lookup", "timeout_s": 5},
        "payments": {"kind": "python", "callable": "my_company.payments:charge"},
        "files":    {"kind": "mcp", "transport": "stdio", "command": "files-mcp-server"}
    }}

(``kind: mcp`` declares an upstream MCP server: see ``_mcp.py`` and docs/tools.md.)

An HTTP tool gets ``POST url`` with ``{"arguments": ..., "idempotency_key": ...}`` and the header
``Idempotency-Key``; a Python tool is called as ``fn(arguments, idempotency_key=...)``. The
result of a completed call is recorded in ``lb.tools.ledger`` (compacted, keyed by idempotency
key); the same key again gets the recorded result, across retries and gateway restarts.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Annotated, Any, Literal, Self

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter, ValidationError

from longboat import KafkaSettings, RecordCodec, describe_errors, utc_now
from longboat.errors import ConfigError, RetryableError, TerminalError
from longboat.gateway._following import FollowingWriter
from longboat.gateway._mcp import McpServerSpec
from longboat.kafka import Decoded, Producer, TopicFollower

__all__ = [
    "LEDGER_ENTRIES",
    "LedgerEntry",
    "Reconcile",
    "ToolFailed",
    "ToolInDoubt",
    "ToolLedger",
    "ToolRegistry",
    "ToolUnavailable",
]


class ToolUnavailable(RetryableError):
    """The tool did not answer or answered 5xx/429: the same key may be retried."""

    code = "tool_unavailable"


class ToolFailed(TerminalError):
    """The tool refused the call (4xx) or raised."""

    code = "tool_failed"


class ToolInDoubt(TerminalError):
    """A call of this key started but never completed (a gateway stopped in the middle), and
    the tool is not idempotent: repeating it could take effect twice, so an operator decides."""

    code = "tool_in_doubt"


class HttpTool(BaseModel):
    """A tool behind an HTTP endpoint."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["http"]
    url: str
    timeout_s: float = Field(default=10, gt=0, le=600)


class PythonTool(BaseModel):
    """A tool that is a Python callable ``module:attribute``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["python"]
    callable: str = Field(pattern=r"^[\w.]+:[\w]+$")


ToolSpec = Annotated[HttpTool | PythonTool | McpServerSpec, Field(discriminator="kind")]


class ToolsFile(BaseModel):
    """The tools file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tools: dict[str, ToolSpec]


class LedgerEntry(BaseModel):
    """The recorded outcome of one tool call."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    tool: str
    agent: str
    result: JsonValue = None
    time: datetime
    state: Literal["started", "completed"] = Field(
        default="completed", description="started: recorded before an MCP call, then completed"
    )
    pii: list[str] = Field(default_factory=list, description="PII kinds found in the result")


LEDGER_ENTRIES: RecordCodec[LedgerEntry] = RecordCodec(LedgerEntry)
"""The serde of ``lb.tools.ledger`` values (key: the agent-scoped idempotency key)."""

Reconcile = Callable[[], Awaitable[tuple[JsonValue, list[str]] | None]]
"""Asks whether an in-doubt call took effect: its (result, PII kinds), or None if it did not."""


class ToolRegistry:
    """The declared tools; calls them once each."""

    def __init__(self, specs: dict[str, HttpTool | PythonTool | McpServerSpec]) -> None:
        """Create the registry (Python callables are resolved now, so typos fail at start).

        MCP servers (``kind: mcp``) are kept apart in :attr:`servers`; the gateway connects
        them (``longboat.gateway._mcp``) and calls their tools as ``<server>.<tool>``.
        """
        self.specs = {n: s for n, s in specs.items() if not isinstance(s, McpServerSpec)}
        self.servers = {n: s for n, s in specs.items() if isinstance(s, McpServerSpec)}
        self._callables = {
            name: _resolve(name, s.callable)
            for name, s in self.specs.items()
            if isinstance(s, PythonTool)
        }
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_file(cls, path: Path | None) -> ToolRegistry:
        """Read the tools file (no file: no tools).

        Raises:
            ConfigError: Unreadable or invalid; the message names the file and field.
        """
        if path is None:
            return cls({})
        try:
            parsed = ToolsFile.model_validate_json(path.read_text())
        except OSError as e:
            raise ConfigError(f"{path}: cannot read the tools file: {e}") from e
        except ValidationError as e:
            raise ConfigError(f"{path}: invalid tools file: {describe_errors(e)}") from e
        return cls(dict(parsed.tools))

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()

    async def call(self, name: str, arguments: JsonValue, idempotency_key: str) -> JsonValue:
        """Call tool ``name`` once.

        Raises:
            ToolUnavailable: Transient failure (retry with the same key).
            ToolFailed: The tool refused or raised.
        """
        spec = self.specs[name]
        if isinstance(spec, HttpTool):
            return await self._http(spec, arguments, idempotency_key)
        fn = self._callables[name]
        try:
            value = fn(arguments, idempotency_key=idempotency_key)
            if inspect.isawaitable(value):
                value = await value
            return TypeAdapter(JsonValue).validate_python(json.loads(json.dumps(value)))
        except (TypeError, ValueError, ValidationError) as e:
            raise ToolFailed(f"tool {name} returned something that is not JSON: {e}") from e
        except RetryableError:
            raise
        except Exception as e:
            raise ToolFailed(f"tool {name} raised {type(e).__name__}: {e}") from e

    async def _http(self, spec: HttpTool, arguments: JsonValue, key: str) -> JsonValue:
        assert self._session is not None
        body = {"arguments": arguments, "idempotency_key": key}
        try:
            async with self._session.post(
                spec.url,
                json=body,
                headers={"Idempotency-Key": key},
                timeout=aiohttp.ClientTimeout(total=spec.timeout_s),
            ) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as e:
            raise ToolUnavailable(f"tool at {spec.url} did not answer: {type(e).__name__}") from e
        if status == 429 or status >= 500:
            raise ToolUnavailable(f"tool at {spec.url} answered {status}")
        if status >= 400:
            raise ToolFailed(f"tool at {spec.url} refused the call ({status}): {text[:300]}")
        try:
            value: JsonValue = json.loads(text) if text else None
        except json.JSONDecodeError as e:
            raise ToolFailed(f"tool at {spec.url} answered non-JSON") from e
        return value


def _resolve(name: str, spec: str) -> Callable[..., Any]:
    module_name, _, attr = spec.partition(":")
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"tool {name}: cannot load {spec}: {e}") from e
    if not callable(fn):
        raise ConfigError(f"tool {name}: {spec} is not callable")
    return fn  # type: ignore[no-any-return]


class ToolLedger(FollowingWriter):
    """Recorded results by idempotency key, from ``lb.tools.ledger``; calls each key once.

    The ledger follows its topic, so a key completed by another gateway replica is answered
    from the record here too (once the record has arrived).
    """

    def __init__(self, kafka: KafkaSettings, topic: str) -> None:
        """Create the ledger; ``async with`` loads it and keeps following it."""
        self._topic = topic
        self._entries: dict[str, LedgerEntry] = {}
        self._inflight: dict[str, asyncio.Future[LedgerEntry]] = {}
        self._producer = Producer(kafka, linger_ms=0)
        self._follower = TopicFollower(kafka, topic, LEDGER_ENTRIES, self._apply)

    def _apply(self, record: Decoded[LedgerEntry]) -> None:
        entry = record.value
        if entry is None:
            # A tombstone only ever clears a start (the tool reported that it failed).
            if (known := self._entries.get(record.key)) and known.state == "started":
                del self._entries[record.key]
            return
        known = self._entries.get(entry.key)
        # A late "started" (another replica's) never hides a completed result.
        if known is None or known.state == "started":
            self._entries[entry.key] = entry

    def recorded(self, key: str) -> LedgerEntry | None:
        """The recorded outcome of ``key``, if the call completed."""
        entry = self._entries.get(key)
        return entry if entry is not None and entry.state == "completed" else None

    async def _record(self, entry: LedgerEntry) -> None:
        await self._producer.send(self._topic, LEDGER_ENTRIES.encode(entry), key=entry.key.encode())
        self._entries[entry.key] = entry

    async def once(
        self,
        key: str,
        tool: str,
        agent: str,
        call: Callable[[], Any],
        *,
        record_start: bool = False,
        rerun_in_doubt: bool = True,
        reconcile: Reconcile | None = None,
    ) -> tuple[LedgerEntry, bool]:
        """The recorded entry for ``key``, calling ``call`` only if there is none.

        Args:
            record_start: Record ``started`` before calling, so a crash mid-call leaves the
                key in doubt instead of unknown.
            rerun_in_doubt: For a key found started but not completed: call again (the tool
                is idempotent or dedupes by the key), else reconcile or raise
                :class:`ToolInDoubt`.
            reconcile: For a key in doubt that is not re-run: asks the tool's server whether
                the call took effect; its ``(result, PII kinds)`` is recorded as the outcome,
                ``None`` (it did not) lets the call run now.

        ``call`` returns the result, or ``(result, PII kinds found in it)``.

        Returns:
            The entry, and whether this request executed the tool.
        """
        if (entry := self.recorded(key)) is not None:
            return entry, False
        if (pending := self._inflight.get(key)) is not None:
            return await asyncio.shield(pending), False  # a concurrent retry: share its outcome
        in_doubt = key in self._entries and not rerun_in_doubt
        if in_doubt and reconcile is None:
            raise ToolInDoubt(
                f"tool {tool}: the call with this idempotency key started before a gateway "
                "stopped and never completed; the tool is not idempotent, so it is not repeated. "
                "Check the tool's effect, then retry with a new step or resolve it by hand"
            )
        future: asyncio.Future[LedgerEntry] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            if in_doubt and reconcile is not None:
                found = await reconcile()
                if found is not None:
                    # It took effect before the crash: its result is the outcome, never a rerun.
                    result, pii = found
                    entry = LedgerEntry(
                        key=key, tool=tool, agent=agent, result=result, time=utc_now(), pii=pii
                    )
                    await self._record(entry)
                    future.set_result(entry)
                    return entry, False
            entry = await self._execute(key, tool, agent, call, record_start=record_start)
            future.set_result(entry)
            return entry, True
        except BaseException as e:
            future.set_exception(e)
            future.exception()  # retrieved: waiters re-raise it
            raise
        finally:
            del self._inflight[key]

    async def _execute(
        self, key: str, tool: str, agent: str, call: Callable[[], Any], *, record_start: bool
    ) -> LedgerEntry:
        try:
            if record_start:
                # Durable before the call: a crash from here on leaves the key in doubt.
                await self._record(
                    LedgerEntry(key=key, tool=tool, agent=agent, time=utc_now(), state="started")
                )
            result = await call()
        except TerminalError:
            if record_start:
                # The tool answered that it failed: nothing is in doubt, a retry may call again.
                await self._producer.send(self._topic, None, key=key.encode())
                self._entries.pop(key, None)
            raise
        pii: list[str] = []
        if isinstance(result, tuple):
            result, pii = result
        entry = LedgerEntry(key=key, tool=tool, agent=agent, result=result, time=utc_now(), pii=pii)
        # Durable before answered: a retry after a crash finds the result, not a second call.
        await self._record(entry)
        return entry
