"""``longboat workflows``: workflow definitions."""

from __future__ import annotations

from pathlib import Path

import click

from longboat.errors import ConfigError

__all__ = ["workflows"]


@click.group()
def workflows() -> None:
    """Workflow definitions (YAML) for the coordinator."""


@workflows.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def validate(files: tuple[Path, ...]) -> None:
    """Check FILES (or every *.yaml in folders): each problem names the file, field and fix."""
    from coordinator._definitions import DefinitionSet, load_definition

    paths: list[Path] = []
    for item in files:
        paths += sorted([*item.rglob("*.yaml"), *item.rglob("*.yml")]) if item.is_dir() else [item]
    problems: list[str] = []
    loaded = []
    for path in paths:
        try:
            definition = load_definition(path)
        except ConfigError as e:
            problems.append(str(e))
            continue
        loaded.append(definition)
        steps = len(definition.step_ids())
        click.echo(f"ok  {path}: {definition.name} v{definition.version}, {steps} steps")
    try:
        DefinitionSet(loaded)
    except ConfigError as e:
        problems.append(str(e))
    if problems:
        raise ConfigError("\n".join(problems))
