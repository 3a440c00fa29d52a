"""Local-infrastructure helpers that need no running process."""

from __future__ import annotations

from pathlib import Path

import pytest

from longboat.devinfra import DevStack, provision_kafka, provision_opa
from longboat.devinfra._tools import require_tool
from longboat.errors import InfraError, ToolMissing


@pytest.mark.parametrize(
    ("tool", "hint"), [("java", "openjdk"), ("mvn", "maven"), ("go", "golang")]
)
def test_missing_tool_says_what_to_install(
    tool: str, hint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the tool off PATH, the error names it and the package to install."""
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolMissing, match=tool) as info:
        require_tool(tool)
    assert hint in str(info.value)
    assert isinstance(info.value, InfraError)


def test_provisioning_without_tools_fails_before_doing_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty cache and no mvn/go: ToolMissing, and the cache holds nothing half-made."""
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolMissing, match="mvn"):
        provision_kafka(tmp_path / "cache")
    with pytest.raises(ToolMissing, match="go"):
        provision_opa(tmp_path / "cache")
    assert not any((tmp_path / "cache").glob("*-*"))


def test_stack_without_state_reports_nothing_running(tmp_path: Path) -> None:
    """No state file (or a corrupt one): not running, and down stops nothing."""
    stack = DevStack(tmp_path / "home")
    assert stack.read_state() is None
    assert stack.down() == []
    stack.state_file.parent.mkdir(parents=True)
    stack.state_file.write_text("{not json")
    assert stack.read_state() is None
    assert stack.down() == []
