"""Import the OpenAI Agents SDK (import name ``agents``) from its installed distribution.

Why not ``import agents``: the SDK's import name is generic. In a checkout of this repository
the component folder ``agents/`` (Longboat's agent runtime, linked as ``longboat.agents``)
sits at the top, and pytest, ``PYTHONPATH=.`` or ``python -m`` from the root put that folder
first on ``sys.path``: a plain ``import agents`` would then get Longboat's own runtime under
the wrong name. So the SDK is located by its distribution (``openai-agents``) and loaded from
its own files, then bound as ``agents`` in ``sys.modules`` so that its modules (and the user's
later ``import agents``) all see the one SDK. Nothing here depends on the working directory.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from longboat.errors import UsageError

__all__ = ["EXTRA", "SDK_DISTRIBUTION", "load_sdk"]

SDK_DISTRIBUTION = "openai-agents"
EXTRA = "openai-agents"
_IMPORT_NAME = "agents"


def load_sdk(distribution: str = SDK_DISTRIBUTION) -> ModuleType:
    """The SDK's top-level module, loaded from the ``distribution``'s files.

    Raises:
        ImportError: The SDK is not installed (the message names the extra to install).
        UsageError: Something else is already imported as ``agents`` (names it and the fix).
    """
    location = _package_dir(distribution)
    loaded = sys.modules.get(_IMPORT_NAME)
    if loaded is not None:
        if _is_from(loaded, location):
            return loaded
        raise UsageError(
            f"`import agents` already gave {getattr(loaded, '__file__', loaded)!r}, not the "
            f"OpenAI Agents SDK in {location}: import longboat.agents.openai_agents before "
            "anything imports `agents` (from a repository checkout the folder agents/ shadows "
            "the SDK), or run from another working directory"
        )
    spec = importlib.util.spec_from_file_location(
        _IMPORT_NAME, location / "__init__.py", submodule_search_locations=[str(location)]
    )
    if spec is None or spec.loader is None:  # pragma: no cover - a broken installation
        raise ImportError(f"cannot load the OpenAI Agents SDK from {location}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_IMPORT_NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_IMPORT_NAME]
        raise
    return module


def _package_dir(distribution: str) -> Path:
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise ImportError(
            "longboat.agents.openai_agents needs the OpenAI Agents SDK: "
            f"pip install 'longboat[{EXTRA}]' (distribution {distribution} is not installed)"
        ) from None
    init = Path(str(dist.locate_file(f"{_IMPORT_NAME}/__init__.py")))
    if not init.is_file():
        raise ImportError(f"distribution {distribution} has no {_IMPORT_NAME}/__init__.py")
    return init.parent.resolve()


def _is_from(module: ModuleType, location: Path) -> bool:
    origin = getattr(module, "__file__", None)
    return origin is not None and Path(origin).resolve().parent == location
