"""``longboat agents``: enrol, list, revoke and set the status of agent identities."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from longboat import Settings

if TYPE_CHECKING:
    from longboat.registry import AgentRecord
from longboat.cli._app import run_async, settings_from
from longboat.errors import UsageError

__all__ = ["agents"]

_STATUSES = ("active", "canary", "draining", "revoked")


def _operator(settings: Settings) -> str:
    if settings.operator_token is None:
        raise UsageError("set LONGBOAT_OPERATOR_TOKEN to the registry's operator token")
    return settings.operator_token.get_secret_value()


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per agent.")
@click.pass_context
def agents(ctx: click.Context, as_json: bool) -> None:
    """List enrolled agents (version, status, instances, last heartbeat), or manage them."""
    if ctx.invoked_subcommand is not None:
        return
    from longboat.registry import RegistryClient

    settings = settings_from(ctx)

    async def fetch() -> list[AgentRecord]:
        async with RegistryClient(settings.registry_url) as registry:
            return await registry.agents()

    records = run_async(fetch())
    for record in records:
        if as_json:
            click.echo(record.model_dump_json())
        else:
            click.echo(_describe(record))
    if not records and not as_json:
        click.echo("no agents enrolled (longboat agents enroll NAME --version V)")


def _describe(record: AgentRecord) -> str:
    now = datetime.now(UTC)
    lines = []
    for version in record.versions.values():
        beats = [i.last_heartbeat for i in version.instances.values()]
        last = f"{(now - max(beats)).total_seconds():.0f}s ago" if beats else "never"
        lines.append(
            f"{record.agent_id:<24} {version.version:<10} {version.status:<9} "
            f"instances={len(version.instances)} last_heartbeat={last} owner={record.owner}"
        )
    return "\n".join(lines)


@agents.command()
@click.argument("name")
@click.option("--version", "version", required=True, help="The agent version this key is for.")
@click.option(
    "--capability",
    "capabilities",
    multiple=True,
    metavar="KIND:NAME",
    help="tool:NAME, memory:BANK or topic:NAME the agent may use; repeatable.",
)
@click.option("--owner", help="Team or person responsible.")
@click.option("--risk-tier", type=click.Choice(["low", "medium", "high"]))
@click.option("--prompt-version", help="Version of the agent's prompts.")
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the private key (default .longboat/keys/NAME-VERSION-KID.key).",
)
@click.option(
    "--print-key-path",
    is_flag=True,
    help="Print only the private key's path, for scripts: KEY=$(longboat agents enroll ...).",
)
@click.pass_context
def enroll(
    ctx: click.Context,
    name: str,
    version: str,
    capabilities: tuple[str, ...],
    owner: str | None,
    risk_tier: str | None,
    prompt_version: str | None,
    key_file: Path | None,
    print_key_path: bool,
) -> None:
    """Create an Ed25519 key pair for NAME, keep the private key (0600), register the public one."""
    from longboat.registry import (
        Capability,
        RegistryClient,
        generate_key,
        key_id,
        public_key_b64,
        write_private_key,
    )

    settings = settings_from(ctx)
    try:
        parsed = [Capability.parse(c) for c in capabilities]
    except ValueError as e:
        raise UsageError(f"--capability: {e}") from e
    private = generate_key()
    public = public_key_b64(private)
    path = key_file or settings.dev_home / "keys" / f"{name}-{version}-{key_id(public)}.key"

    async def register() -> object:
        async with RegistryClient(
            settings.registry_url, operator_token=_operator(settings)
        ) as registry:
            return await registry.enroll(
                name,
                version=version,
                public_key=public,
                capabilities=parsed,
                owner=owner,
                risk_tier=risk_tier,  # type: ignore[arg-type]
                prompt_version=prompt_version,
            )

    # Write the key first: a registered public key whose private half was lost is useless.
    write_private_key(private, path)
    try:
        run_async(register())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if print_key_path:
        click.echo(path.resolve())
        return
    click.echo(f"enrolled {name} {version} key {key_id(public)}")
    click.echo(
        f"private key: {path.resolve()} (mode 0600; the agent reads LONGBOAT_AGENT__KEY_FILE)"
    )


def _set_status(ctx: click.Context, name: str, status: str, version: str | None) -> None:
    from longboat.registry import RegistryClient

    settings = settings_from(ctx)

    async def call() -> object:
        async with RegistryClient(
            settings.registry_url, operator_token=_operator(settings)
        ) as registry:
            return await registry.set_status(name, status, version=version)  # type: ignore[arg-type]

    run_async(call())
    click.echo(f"{name} {version or '(all versions)'}: {status}")


@agents.command()
@click.argument("name")
@click.option("--version", help="Only this version (default: every version).")
@click.pass_context
def revoke(ctx: click.Context, name: str, version: str | None) -> None:
    """Revoke NAME: its tokens are refused everywhere within seconds."""
    _set_status(ctx, name, "revoked", version)


@agents.command("status")
@click.argument("name")
@click.argument("status", type=click.Choice(_STATUSES))
@click.option("--version", help="Only this version (default: every version).")
@click.option(
    "--require-clean-shadow", "shadow_report", type=click.Path(dir_okay=False, path_type=Path),
    help="Promote to active only if this `longboat shadow report -o` file is clean.",
)  # fmt: skip
@click.pass_context
def status_command(
    ctx: click.Context, name: str, status: str, version: str | None, shadow_report: Path | None
) -> None:
    """Set NAME's status: active, canary, draining or revoked."""
    if shadow_report is not None:
        from longboat.cli._shadow import require_clean_shadow

        if status != "active":
            raise UsageError("--require-clean-shadow gates a promotion: use it with status active")
        require_clean_shadow(shadow_report, agent=name, version=version)
    _set_status(ctx, name, status, version)


@agents.command()
@click.argument("name")
@click.option("--version", "version", required=True)
@click.option(
    "--key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True
)
@click.option("--instance", default="cli")
@click.option("--ttl", type=click.IntRange(1, 3600), default=60, show_default=True, help="Seconds.")
@click.pass_context
def token(
    ctx: click.Context, name: str, version: str, key_file: Path, instance: str, ttl: int
) -> None:
    """Print a short-lived, single-use token for NAME signed with its private key."""
    from longboat.registry import TokenIssuer, load_private_key

    issuer = TokenIssuer(
        load_private_key(key_file), agent_id=name, version=version, instance=instance
    )
    click.echo(issuer.issue(ttl_s=ttl))
