"""The README works exactly as written: every ```sh block runs, in order, against one real stack.

Each block runs as written in one ``bash`` process (so ``&`` and ``kill %1`` work), with
``set -e -o pipefail``, the venv's ``bin`` on ``PATH``, the repository as working directory and
``LONGBOAT_DEV_HOME`` in a temporary directory, so ``longboat dev up`` starts a stack of its own
on free ports. Exported variables carry from one block to the next, as in the one terminal a
reader types them into. Whatever the blocks leave running is stopped at the end, also on failure:
``longboat dev down``, then every process group the blocks started.

The single documented exclusion: the lines ``make demo``, ``make test`` and ``make venv``. They
build the environment this test already runs in (and ``make test`` runs this test); the test
checks instead that the Makefile has those targets.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.helpers import assert_eventually_sync

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
EXCLUDED = re.compile(r"^make (demo|test|venv)\b")
# The ports the README's commands use as written (agent metrics, registry, coordinator, gateway).
README_PORTS = (8490, 8460, 8470, 8480)
BLOCK_TIMEOUT_S = 300

# What each block's comments promise, checked cheaply in its output (by the heading above it).
PROMISES: dict[str, list[str]] = {
    "Longboat": [],
    "Five-minute tour": [
        r"(?m)^[0-9a-f-]{36}$",  # publish prints the event id
        r"claims\.submitted\s+\S+\s+\{\"claim_id\":\"c-1\"",  # human-readable line
        r"\"type\":\"claims\.submitted\".*\"data\":\{\"claim_id\":\"c-1\"",  # --json
    ],
    "A durable agent": [r"claims\.triaged .*\"label\":", r"longboat_agent_records"],
    "Agent identities": [r"(?m)^triage\s+1\.0\s+active", r"triage \(all versions\): revoked"],
    "Governed memory and tools": [r"digest"],
    "A fleet": [r"(?m)^\s*registry\b", r"triage-0"],  # status lists every process
    "Workflows": [],
    "When you are done": [],
}


@dataclass(frozen=True)
class Block:
    """One ```sh block of the README: its position, the heading above it, its script."""

    number: int
    heading: str
    script: str

    @property
    def name(self) -> str:
        """A test id: the block's number and heading."""
        slug = re.sub(r"[^a-z0-9]+", "-", self.heading.lower()).strip("-")
        return f"{self.number:02d}-{slug}"


def readme_blocks(text: str) -> list[Block]:
    """Every fenced block of ``text`` as a :class:`Block`; refuses fences that are not ```sh."""
    blocks: list[Block] = []
    heading = ""
    lines = iter(text.splitlines())
    for line in lines:
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif line.startswith("```"):
            if line.strip() != "```sh":
                raise ValueError(f"README fence {line!r} under {heading!r}: use ```sh")
            body = []
            for inner in lines:
                if inner.startswith("```"):
                    break
                body.append(inner)
            blocks.append(Block(len(blocks) + 1, heading, "\n".join(body) + "\n"))
    return blocks


def runnable(script: str) -> str:
    """The script without the documented exclusions (``make demo|test|venv`` lines)."""
    return "".join(
        line for line in script.splitlines(keepends=True) if not EXCLUDED.match(line.strip())
    )


BLOCKS = readme_blocks(README.read_text())


def test_every_readme_block_is_known_and_run() -> None:
    """Parse check: every fence is ```sh and every block sits under a heading whose promises the
    harness knows, so an added block cannot go unrun or unchecked."""
    assert BLOCKS, "README.md has no ```sh blocks"
    for block in BLOCKS:
        assert block.heading in PROMISES, (
            f"README block {block.number} under {block.heading!r} is new: "
            "add its heading and promises to PROMISES in tests/e2e/test_readme.py"
        )
    assert {b.heading for b in BLOCKS} == set(PROMISES), "PROMISES names a heading with no block"
    only_excluded = [b for b in BLOCKS if not runnable(b.script).strip()]
    assert [b.heading for b in only_excluded] == ["Longboat"], "only the make block is excluded"


def test_excluded_make_targets_exist() -> None:
    """The make targets the README names but this test does not run exist in the Makefile."""
    makefile = (REPO / "Makefile").read_text()
    named = {m.group(1) for b in BLOCKS for m in re.finditer(r"make (\w+)", b.script)}
    assert {"demo", "test", "venv"} <= named
    for target in named:
        assert re.search(rf"(?m)^{target}:", makefile), f"Makefile has no target {target!r}"


def test_readme_blocks_parse_strictly() -> None:
    """A fence in another language is refused, so it cannot hide commands from the harness."""
    with pytest.raises(ValueError, match="use ```sh"):
        readme_blocks("# X\n```bash\nlongboat dev up\n```\n")
    assert readme_blocks("# T\n```sh\na\nb\n```\n") == [Block(1, "T", "a\nb\n")]


class Session:
    """One reader's terminal: a dev home, the carried environment, the processes started."""

    def __init__(self, home: Path, cache: Path) -> None:
        self.home = home
        self.env_file = home / "exported.sh"
        self.groups: list[int] = []
        venv_bin = str(Path(sys.executable).parent)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LONGBOAT_")}
        self.env |= {
            "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
            "LONGBOAT_DEV_HOME": str(home / "dev"),
            "LONGBOAT_CACHE_DIR": str(cache),
        }

    def run(self, block: Block) -> tuple[int, str]:
        """Run one block in its own bash process (own process group); return exit code, output."""
        script = self.home / f"block-{block.number:02d}.sh"
        log = self.home / f"block-{block.number:02d}.log"
        script.write_text(
            "set -e -o pipefail\n"
            f'if [ -f "{self.env_file}" ]; then . "{self.env_file}"; fi\n'
            f"trap 'export -p > \"{self.env_file}\"' EXIT\n"
            f"cd {REPO}\n" + runnable(block.script)
        )
        # Output goes to a file, not a pipe: background jobs keep a pipe open after bash exits.
        with log.open("wb") as out:
            proc = subprocess.Popen(
                ["bash", str(script)],
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.groups.append(proc.pid)
            try:
                code = proc.wait(timeout=BLOCK_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                code = -1
        return code, log.read_text(errors="replace")

    def close(self) -> None:
        """Stop the dev stack and every process the blocks left behind."""
        subprocess.run(
            [str(Path(sys.executable).parent / "longboat"), "dev", "down"],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            timeout=120,
            check=False,
        )
        for group in self.groups:
            _signal_group(group, signal.SIGTERM)
        for group in self.groups:
            try:
                assert_eventually_sync(
                    partial(_group_alive, group), lambda alive: not alive, timeout_s=30
                )
            except AssertionError:
                _signal_group(group, signal.SIGKILL)


def _signal_group(group: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, sig)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def _port_busy(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory, infra_cache: Path) -> Iterator[Session]:
    """The reader's terminal shared by every block, cleaned up even when a block fails."""
    busy = [p for p in README_PORTS if _port_busy(p)]
    if busy:
        reason = f"the README's fixed ports {busy} are in use on 127.0.0.1"
        if IN_CI:
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    s = Session(tmp_path_factory.mktemp("readme"), infra_cache)
    try:
        yield s
    finally:
        s.close()


@pytest.mark.parametrize("block", BLOCKS, ids=[b.name for b in BLOCKS])
def test_readme_block(session: Session, block: Block) -> None:
    """The README block runs as written, exits 0 and shows what its comments promise."""
    if not runnable(block.script).strip():  # only the excluded `make` lines
        test_excluded_make_targets_exist()
        return
    started = time.monotonic()
    code, output = session.run(block)
    took = time.monotonic() - started
    assert code == 0, f"block {block.name} exited {code} after {took:.0f} s:\n{output}"
    for promise in PROMISES[block.heading]:
        assert re.search(promise, output), f"block {block.name}: no {promise!r} in:\n{output}"
