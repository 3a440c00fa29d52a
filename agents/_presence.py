"""The agent's presence in the registry: register the instance on start, then heartbeat.

Only when ``LONGBOAT_AGENT__KEY_FILE`` is set (the key ``longboat agents enroll`` wrote).
A registry outage never stops the agent: heartbeats are retried and logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from collections.abc import Callable
from pathlib import Path

from longboat import get_logger
from longboat.agents._agent import Agent
from longboat.agents._options import AgentSettings
from longboat.errors import LongboatError
from longboat.registry import InstanceCounters

__all__ = ["code_digest", "keep_present"]

_log = get_logger("agents.presence")


def code_digest(agent: Agent) -> str | None:
    """``sha256:`` of the source file defining the handler (what the registry reports)."""
    try:
        source = inspect.getsourcefile(agent.handle)
        return "sha256:" + hashlib.sha256(Path(source).read_bytes()).hexdigest() if source else None
    except (OSError, TypeError):
        return None


async def keep_present(
    agent: Agent,
    settings: AgentSettings,
    instance: str,
    stopping: asyncio.Event,
    *,
    counters: Callable[[], InstanceCounters] | None = None,
) -> None:
    """Heartbeat every ``heartbeat_s`` until ``stopping`` is set (no-op without a key file).

    Each heartbeat carries ``counters()``: the process's totals (records, errors, dead
    letters), from which the registry derives records per second for Mission Control.
    """
    key_file = settings.agent.key_file
    if key_file is None:
        _log.info(
            "registry_presence_disabled",
            agent_id=agent.name,
            reason="LONGBOAT_AGENT__KEY_FILE not set",
        )
        return
    from longboat.registry import RegistryClient, TokenIssuer, load_private_key

    issuer = TokenIssuer(
        load_private_key(key_file), agent_id=agent.name, version=agent.version, instance=instance
    )
    digest = code_digest(agent)
    async with RegistryClient(settings.registry_url) as registry:
        while not stopping.is_set():
            try:
                await registry.heartbeat(
                    agent.name,
                    token=issuer.issue(ttl_s=60),
                    code_digest=digest,
                    counters=counters() if counters else None,
                )
                _log.debug("heartbeat_sent", agent_id=agent.name)
            except LongboatError as e:
                _log.warning(
                    "heartbeat_failed",
                    agent_id=agent.name,
                    error_type=type(e).__name__,
                    reason=str(e)[:300],
                )
            try:
                await asyncio.wait_for(stopping.wait(), timeout=settings.agent.heartbeat_s)
            except TimeoutError:
                continue
