"""The OpenAI Agents SDK is imported from its distribution, never from the repository's agents/."""

from __future__ import annotations

import sys
from types import ModuleType

import pytest

from longboat.agents._openai_sdk import load_sdk
from longboat.agents.openai_agents import sdk
from longboat.errors import UsageError


def test_the_sdk_comes_from_its_distribution_even_with_the_repo_first_on_the_path() -> None:
    """`agents` is bound to the installed SDK although pytest put the checkout first on sys.path."""
    assert sdk.__file__ is not None
    assert "site-packages" in sdk.__file__, sdk.__file__
    assert hasattr(sdk, "Runner")
    assert sys.modules["agents"] is sdk
    assert load_sdk() is sdk
    import agents  # the point: a later plain import gets the same SDK

    assert agents is sdk


def test_a_missing_sdk_names_the_extra() -> None:
    """Without the SDK installed, the error says which extra to install."""
    with pytest.raises(ImportError, match=r"pip install 'longboat\[openai-agents\]'"):
        load_sdk("openai-agents-not-installed-here")


def test_a_shadowing_agents_module_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another module already imported as `agents` gets a clear error, not a wrong SDK."""
    shadow = ModuleType("agents")
    shadow.__file__ = "/checkout/agents/__init__.py"
    monkeypatch.setitem(sys.modules, "agents", shadow)
    with pytest.raises(UsageError, match="shadows the SDK"):
        load_sdk()
