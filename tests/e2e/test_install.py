"""One namespace: the wheel holds only ``longboat``, and installs beside the OpenAI Agents SDK.

The components live in top-level folders linked into ``longboat/`` (``longboat/agents ->
../agents``); the wheel must follow those links, and nothing generic (``agents``, ``gateway``)
may land at the top of site-packages, where it would shadow the OpenAI Agents SDK (whose import
name is ``agents``). Needs PyPI (or pip's cache) for the fresh environment.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# What the build needs; copying keeps build/ and *.egg-info out of the working tree and lets
# two builds run side by side.
_SOURCES = (
    "pyproject.toml",
    "README.md",
    "longboat",
    "agents",
    "coordinator",
    "gateway",
    "registry",
    "cli",
)


def _run(args: list[str], *, cwd: Path, timeout: float = 600) -> str:
    done = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built from a copy of the sources (symlinks kept as links)."""
    src = tmp_path_factory.mktemp("src")
    for name in _SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(
                path,
                src / name,
                symlinks=True,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            )
        else:
            shutil.copy2(path, src / name)
    assert (src / "longboat" / "agents").is_symlink()
    out = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), "."], cwd=src)
    (built,) = out.glob("longboat-*.whl")
    return built


def test_wheel_holds_only_the_longboat_package(wheel: Path) -> None:
    """The wheel followed the component symlinks and has no top-level package but longboat."""
    names = zipfile.ZipFile(wheel).namelist()
    assert "longboat/agents/_context.py" in names
    assert "longboat/coordinator/static/index.html" in names
    assert "longboat/cli/__init__.py" in names
    assert "longboat/py.typed" in names
    tops = {name.split("/")[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"longboat"}


def test_installs_and_imports_beside_openai_agents(
    wheel: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """pip install longboat openai-agents into one fresh venv: both import in one process."""
    venv = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", str(venv)], cwd=venv)
    python = venv / "bin" / "python"
    _run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-c",
            str(REPO / "requirements.lock"),
            str(wheel),
            "openai-agents",
        ],
        cwd=venv,
    )
    # cwd is an empty directory so that nothing from the repository can be imported by accident.
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    probe = (
        "import agents, longboat.agents, longboat.coordinator, longboat.gateway, longboat.registry;"
        "assert hasattr(agents, 'Runner'), agents.__file__;"
        "assert 'site-packages' in agents.__file__, agents.__file__;"
        "assert longboat.agents.Agent.__module__.startswith('longboat.agents'), 'Agent';"
        "print(agents.__file__, longboat.agents.__file__)"
    )
    shown = _run([str(python), "-c", probe], cwd=elsewhere)
    assert "site-packages/agents/" in shown
    assert "site-packages/longboat/agents/" in shown
    assert "Usage: longboat" in _run([str(venv / "bin" / "longboat"), "--help"], cwd=elsewhere)
