"""Find the :class:`Agent` named by ``MODULE:ATTR``."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from longboat.agents._agent import Agent
from longboat.errors import ConfigError

__all__ = ["load_agent"]


def load_agent(spec: str) -> Agent:
    """Import ``module:attribute`` (the working directory is importable, after installed packages).

    Raises:
        ConfigError: The spec is malformed, the module or attribute is missing, or it is not an
            Agent; the message says which.
    """
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"{spec!r}: name the agent as MODULE:ATTR, e.g. my_agents.triage:agent")
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        # Appended, not prepended: a folder in the working directory must not shadow an
        # installed package of the same name (e.g. ``agents``, the OpenAI Agents SDK).
        sys.path.append(cwd)
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"{spec!r}: cannot import module {module_name}: {e}") from e
    target = getattr(module, attr, None)
    if target is None:
        raise ConfigError(f"{spec!r}: module {module_name} has no attribute {attr}")
    if not isinstance(target, Agent):
        raise ConfigError(
            f"{spec!r}: {attr} is a {type(target).__name__}, not a longboat.agents.Agent"
        )
    return target
