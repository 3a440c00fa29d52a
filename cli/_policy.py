"""``longboat policy``: check, test, publish and inspect gateway policies."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import click

from longboat import Settings, TopicNames
from longboat.cli._app import run_async, settings_from
from longboat.devinfra import cache_dir, provision_opa
from longboat.errors import ConfigError
from longboat.kafka import read_decoded

if TYPE_CHECKING:
    from longboat.gateway import PolicyBundle, PolicyRecord

__all__ = ["policy"]

_DIR = click.Path(exists=True, file_okay=False, path_type=Path)


def _opa(settings: Settings) -> Path:
    return provision_opa(cache_dir(settings.dev_home.resolve()))


def _run_opa(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(_opa(settings)), *args], capture_output=True, text=True, check=False)


def _check(settings: Settings, folder: Path, *, name: str = "longboat") -> PolicyBundle:
    """``opa check --strict`` and ``opa fmt --list``: refuse with OPA's own message."""
    from longboat.gateway import check_bundle

    return check_bundle(folder, opa=_opa(settings), name=name)


@click.group()
def policy() -> None:
    """Gateway policies: check, test, publish to every gateway, show what runs."""


@policy.command()
@click.argument("folder", type=_DIR)
@click.pass_context
def check(ctx: click.Context, folder: Path) -> None:
    """Compile FOLDER strictly and check its formatting."""
    _check(settings_from(ctx), folder)
    click.echo(f"{folder}: ok")


@policy.command("test")
@click.argument("folder", type=_DIR)
@click.pass_context
def test_command(ctx: click.Context, folder: Path) -> None:
    """Run FOLDER's Rego tests and print the coverage."""
    settings = settings_from(ctx)
    result = _run_opa(settings, "test", str(folder))
    click.echo(result.stdout.strip())
    if result.returncode != 0:
        raise ConfigError(f"policy tests failed in {folder}")
    coverage = json.loads(
        _run_opa(settings, "test", "--coverage", "--format", "json", str(folder)).stdout
    )
    click.echo(f"coverage: {coverage.get('coverage', 0):.1f}%")


@policy.command()
@click.argument("folder", type=_DIR)
@click.option("--bundle", default="longboat", show_default=True)
@click.pass_context
def publish(ctx: click.Context, folder: Path, bundle: str) -> None:
    """Check FOLDER, then publish it to lb.policies; every gateway loads it (nothing restarts)."""
    from longboat.gateway import publish_bundle

    settings = settings_from(ctx)
    built = _check(settings, folder, name=bundle)
    run_async(publish_bundle(built, kafka=settings.kafka, topic_prefix=settings.topic_prefix))
    click.echo(f"published {bundle} {built.digest} ({len(built.modules)} modules)")


@policy.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """The published bundle digest and the digest each gateway runs."""
    settings = settings_from(ctx)
    records = run_async(_read(settings))
    for _, value in sorted(records.items()):
        line = _line(value)
        if as_json:
            click.echo(json.dumps(line))
        elif line["kind"] == "bundle":
            click.echo(f"published  {line['name']:<20} {line['digest']}")
        else:
            state = "ok" if line["ok"] else f"ERROR {line['error']}"
            click.echo(f"gateway    {line['gateway']:<20} {line['digest']}  {state}")


def _line(value: PolicyRecord) -> dict[str, object]:
    from longboat.gateway import PolicyBundle

    if isinstance(value, PolicyBundle):
        return {
            "kind": "bundle",
            "name": value.name,
            "digest": value.digest,
            "published_at": value.published_at.isoformat(),
        }
    return value.model_dump(mode="json")


async def _read(settings: Settings) -> dict[str, PolicyRecord]:
    """The latest readable record per key (junk is skipped with a warning; tombstones delete)."""
    from longboat.gateway import POLICY_RECORDS

    latest: dict[str, PolicyRecord] = {}
    topic = TopicNames(settings.topic_prefix).policies
    async for item in read_decoded(settings.kafka, topic, POLICY_RECORDS):
        if item.value is None:
            latest.pop(item.key, None)
        elif item.key:
            latest[item.key] = item.value
    return latest
