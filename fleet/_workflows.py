"""The coordinator's one folder of workflow definitions, from the fleet's files and folders."""

from __future__ import annotations

import shutil
from pathlib import Path

from longboat.errors import ConfigError
from longboat.fleet._model import Fleet

__all__ = ["definitions_folder"]


def definitions_folder(fleet: Fleet, root: Path, scratch: Path) -> Path:
    """A folder holding every workflow file the fleet names (relative to ``root``).

    One folder is used as it is; otherwise ``scratch`` is refilled with links to each file.

    Raises:
        ConfigError: A path does not exist (the message names it and the field).
    """
    paths = [root / p for p in fleet.workflows]
    for given, path in zip(fleet.workflows, paths, strict=True):
        if not path.exists():
            raise ConfigError(f"workflows: {given} does not exist under {root} — fix the path")
    if len(paths) == 1 and paths[0].is_dir():
        return paths[0]
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    for index, path in enumerate(paths):
        files = sorted([*path.rglob("*.yaml"), *path.rglob("*.yml")]) if path.is_dir() else [path]
        for file in files:
            # The index keeps two files of the same name from different folders apart.
            (scratch / f"{index:02d}-{file.name}").symlink_to(file.resolve())
    return scratch
