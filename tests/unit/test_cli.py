"""The CLI without I/O: help for every command, --data parsing, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from longboat.cli import cli
from longboat.cli._events import parse_data
from longboat.errors import UsageError


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, name
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
    return found


def test_root_help_lists_the_commands() -> None:
    """`longboat --help` lists every top-level command."""
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in (
        "dev",
        "topics",
        "publish",
        "consume",
        "run",
        "dlq",
        "agents",
        "policy",
        "tools",
        "memory",
        "budgets",
        "workflows",
        "approve",
        "reject",
        "cancel",
        "inbox",
        "history",
    ):
        assert name in result.output


@pytest.mark.parametrize("path", _commands(cli))
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    """Each command and subcommand answers --help with a description."""
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert len(result.output.splitlines()) > 3


def test_parse_data_inline_file_and_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--data takes inline JSON, @FILE and @- (stdin)."""
    assert parse_data('{"a": [1, 2]}') == {"a": [1, 2]}
    file = tmp_path / "d.json"
    file.write_text('"text"')
    assert parse_data(f"@{file}") == "text"
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("7"))
    assert parse_data("@-") == 7


@pytest.mark.parametrize(
    ("raw", "reason"), [("{bad", "not valid JSON"), ("@/no/such/file", "cannot read")]
)
def test_parse_data_errors_name_the_option(raw: str, reason: str) -> None:
    """Bad --data raises a UsageError naming --data and the problem."""
    with pytest.raises(UsageError, match=reason) as info:
        parse_data(raw)
    assert "--data" in str(info.value)


def test_invalid_settings_give_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad setting stops a command with exit 2 and one line naming the variable."""
    monkeypatch.setenv("LONGBOAT_KAFKA__SECURITY_PROTOCOL", "TLS")
    result = CliRunner().invoke(cli, ["publish", "t", "--data", "1"])
    assert result.exit_code == 2
    assert result.output.startswith("error: invalid settings: LONGBOAT_KAFKA__SECURITY_PROTOCOL")
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_run_agent_imports_no_other_component() -> None:
    """`longboat run agent` loads neither the coordinator, the gateway nor the MCP SDK."""
    probe = (
        "import sys\n"
        "from longboat.cli import cli\n"
        "try:\n"
        "    cli(['run', 'agent', '--help'], prog_name='longboat')\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = [m for m in ('longboat.coordinator', 'longboat.gateway', 'longboat.fleet', 'mcp')"
        " if m in sys.modules]\n"
        "print('LOADED', loaded)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert "LOADED []" in out, out


def test_every_command_is_listed_and_loads() -> None:
    """Lazy commands: each listed name resolves to a click command with that name."""
    context = click.Context(cli)
    names = cli.list_commands(context)
    assert {"run", "agents", "fleet", "replay", "workflows", "trace"} <= set(names)
    for name in names:
        command = cli.get_command(context, name)
        assert command is not None, name
        assert command.name == name
