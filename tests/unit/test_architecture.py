"""The house rules of the source tree, checked on every module's imports (lazy ones included).

Layers, lowest first: kernel (``longboat`` and its own subpackages such as ``longboat.kafka``)
← registry ← gateway ← agents ← coordinator ← fleet ← cli. A module may import its own layer and the
layers below it, never one above; and nobody imports another package's ``_private`` module
(a package's public names are in its ``__init__``). Examples and benchmarks are users: they
import public names only. Tests are white-box and may import the privates of what they test.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAYERS = ("kernel", "registry", "gateway", "agents", "coordinator", "fleet", "cli")
COMPONENTS = frozenset(LAYERS[1:])


def component_of(module: str) -> str:
    """The layer a dotted ``longboat`` module name belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in COMPONENTS else "kernel"


def package_of(module: str, *, is_package: bool = False) -> str:
    """The package a module belongs to (itself when it is a package)."""
    return module if is_package else module.rpartition(".")[0]


def owning_package(target: str) -> str | None:
    """For a name like ``a.b._c.d``: the package whose private module it names (``a.b``)."""
    parts = target.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


def may_import_private(importer_package: str, target: str) -> bool:
    """A private module is open to its own package and that package's subpackages of one layer."""
    owner = owning_package(target)
    if owner is None:
        return True
    inside = importer_package == owner or importer_package.startswith(owner + ".")
    return inside and component_of(importer_package) == component_of(owner)


def source_modules() -> Iterator[tuple[str, Path, bool]]:
    """Every module of the installed namespace, as (dotted name, path, is a package)."""
    root = REPO / "longboat"
    # os.walk, not Path.rglob: the component folders are symlinks that must be followed.
    files = (Path(d) / f for d, _, fs in os.walk(root, followlinks=True) for f in fs)
    for path in sorted(f for f in files if f.suffix == ".py"):
        rel = path.relative_to(REPO).with_suffix("")
        parts = list(rel.parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        yield ".".join(parts), path, is_package


def imports_of(path: Path, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """Every imported module name in a file, relative imports resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package_of(module, is_package=is_package).split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def violations_in(module: str, path: Path, is_package: bool) -> list[str]:
    """The upward and private imports of one module."""
    found = []
    own = LAYERS.index(component_of(module))
    importer_package = package_of(module, is_package=is_package)
    for line, target in imports_of(path, module, is_package):
        if not target.startswith("longboat"):
            continue
        where = f"{path.relative_to(REPO)}:{line}"
        if LAYERS.index(component_of(target)) > own:
            found.append(f"{where}: upward import of {target} from the {LAYERS[own]} layer")
        if not may_import_private(importer_package, target):
            found.append(f"{where}: private import {target}")
    return found


def test_layers_point_one_way_and_privates_stay_private() -> None:
    """No module imports a layer above its own or another package's private module."""
    found = [v for m, p, pkg in source_modules() for v in violations_in(m, p, pkg)]
    assert found == []


@pytest.mark.parametrize("folder", ["examples", "bench"])
def test_examples_and_benchmarks_use_public_names(folder: str) -> None:
    """Examples and benchmarks are written as a user would: no private imports."""
    found = []
    for path in sorted((REPO / folder).rglob("*.py")):
        for line, target in imports_of(path, f"{folder}.x", is_package=False):
            if target.startswith("longboat") and owning_package(target) is not None:
                found.append(f"{path.relative_to(REPO)}:{line}: private import {target}")
    assert found == []


def test_the_checker_sees_what_it_must_refuse() -> None:
    """The rules refuse an upward import and a foreign private import, and allow their own."""
    assert component_of("longboat.agents._context") == "agents"
    assert component_of("longboat.kafka._consumer") == "kernel"
    assert not may_import_private("longboat.agents", "longboat._envelope.Envelope")
    assert not may_import_private("longboat.cli", "longboat.coordinator._service")
    assert not may_import_private("longboat.devinfra", "longboat.kafka._consumer")
    assert may_import_private("longboat.agents", "longboat.agents._context.Context")
    assert may_import_private("longboat.kafka", "longboat._settings.KafkaSettings")
    assert may_import_private("longboat", "longboat.cli.main")


def test_only_longboat_is_installed_at_the_top() -> None:
    """The component folders are reachable only as longboat.<component> (links in longboat/)."""
    for name in sorted(COMPONENTS):
        link = REPO / "longboat" / name
        assert link.is_symlink(), f"longboat/{name} must link to the top-level folder {name}/"
        assert link.resolve() == (REPO / name).resolve()
