"""``longboat tools``: the catalogue of MCP tool definitions and their approval, and tool calls
a policy parked for a person (approved or rejected through the coordinator, which records who).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

import click

from longboat import Settings, TopicNames
from longboat.cli._app import run_async, settings_from
from longboat.errors import UsageError

if TYPE_CHECKING:
    from longboat.coordinator import CoordinatorClient
    from longboat.gateway import ToolApproval

T = TypeVar("T")

__all__ = ["tools"]


@click.group()
def tools() -> None:
    """Tools behind the gateway: MCP definitions to approve, parked calls (docs/tools.md)."""


@tools.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """Every discovered definition: name, digest, status, annotations."""
    from longboat.gateway import read_catalogue

    settings = settings_from(ctx)
    entries = run_async(read_catalogue(settings.kafka, TopicNames(settings.topic_prefix)))
    for entry in entries:
        d = entry.definition
        if as_json:
            click.echo(json.dumps(entry.model_dump(mode="json")))
        else:
            hints = ",".join(k for k, v in d.hints.model_dump().items() if v) or "-"
            click.echo(f"{entry.status:<9} {d.name:<32} {d.digest}  {hints}  {d.description[:60]}")


@tools.command()
@click.argument("name")
@click.argument("digest")
@click.option("--operator", required=True, help="who approves (kept with the approval)")
@click.pass_context
def approve(ctx: click.Context, name: str, digest: str, operator: str) -> None:
    """Approve the definition NAME (server.tool) with DIGEST, as shown by `tools list`."""
    from longboat.gateway import approve_tool

    settings = settings_from(ctx)
    names = TopicNames(settings.topic_prefix)
    try:
        run_async(approve_tool(settings.kafka, names, name, digest, operator=operator))
    except LookupError as e:
        raise UsageError(f"{e} (see `longboat tools list`)") from e
    click.echo(f"approved {name} {digest}")


def _coordinator(settings: Settings, call: Callable[[CoordinatorClient], Awaitable[T]]) -> T:
    """One call through the coordinator (its refusals are one line, exit 2)."""
    from longboat.coordinator import CoordinatorClient, CoordinatorRefused, CoordinatorUnavailable

    async def run() -> T:
        token = settings.operator_token
        secret = token.get_secret_value() if token is not None else None
        async with CoordinatorClient(settings.coordinator_url, operator_token=secret) as client:
            return await call(client)

    try:
        return run_async(run())
    except (CoordinatorRefused, CoordinatorUnavailable) as e:
        raise UsageError(str(e)) from e


def _approval_line(a: ToolApproval) -> str:
    waited = int((datetime.now(UTC) - a.requested_at).total_seconds())
    arguments = "[personal data]" if a.pii else json.dumps(a.arguments)[:80]
    return (
        f"{a.id}  {a.state:<8} {a.agent}@{a.version}  {a.tool}  {arguments}  "
        f"waited {waited}s, deadline {a.deadline.isoformat(timespec='seconds')}  "
        f"{'; '.join(a.reasons)}"
    )


def _resolved_line(verb: str, a: ToolApproval) -> str:
    return f"{verb} {a.id} ({a.tool} of {a.agent}) as {a.resolved_by}"


@tools.command()
@click.option("--all", "everything", is_flag=True, help="Also resolved and expired ones.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def approvals(ctx: click.Context, everything: bool, as_json: bool) -> None:
    """Tool calls waiting for an operator (a policy answered require_approval)."""
    found = _coordinator(settings_from(ctx), lambda c: c.tool_approvals(pending=not everything))
    for approval in found:
        click.echo(approval.model_dump_json() if as_json else _approval_line(approval))


@tools.command("approve-call")
@click.argument("approval")
@click.option("--arguments", help="JSON arguments to run the call with instead of the agent's.")
@click.option("--note", help="Kept with the approval.")
@click.option("--by", help="Your name, when the operator token is a shared one.")
@click.pass_context
def approve_call(
    ctx: click.Context, approval: str, arguments: str | None, note: str | None, by: str | None
) -> None:
    """Approve the parked tool call APPROVAL (an id from `longboat tools approvals`)."""
    edited = arguments is not None
    try:
        parsed = json.loads(arguments) if arguments is not None else None
    except json.JSONDecodeError as e:
        raise UsageError(f"--arguments: not JSON: {e}") from e
    resolved = _coordinator(
        settings_from(ctx),
        lambda c: c.approve_call(approval, arguments=parsed, edited=edited, note=note, by=by),
    )
    click.echo(
        f"approved {resolved.id} ({resolved.tool} of {resolved.agent}) as {resolved.resolved_by}"
    )


@tools.command("reject-call")
@click.argument("approval")
@click.option("--note", required=True, help="Why: the agent's step fails with it.")
@click.option("--by", help="Your name, when the operator token is a shared one.")
@click.pass_context
def reject_call(ctx: click.Context, approval: str, note: str, by: str | None) -> None:
    """Reject the parked tool call APPROVAL; the agent's step fails with tool_rejected."""
    resolved = _coordinator(settings_from(ctx), lambda c: c.reject_call(approval, note=note, by=by))
    click.echo(
        f"rejected {resolved.id} ({resolved.tool} of {resolved.agent}) as {resolved.resolved_by}"
    )
