"""``longboat budgets``: model spend per agent against the budgets in the policy data."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from longboat import Settings, TopicNames, utc_now
from longboat.cli._app import run_async, settings_from
from longboat.kafka import read_decoded

if TYPE_CHECKING:
    from longboat.gateway import ModelsPolicyData, ModelUsage

__all__ = ["budgets"]


@click.command()
@click.option(
    "--policies",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("policies"),
    show_default=True,
    help="The policy bundle folder holding longboat/models/data.json.",
)
@click.option("--agent", help="Only this agent.")
@click.option("--json", "as_json", is_flag=True, help="One row per line.")
@click.pass_context
def budgets(ctx: click.Context, folder: Path, agent: str | None, as_json: bool) -> None:
    """Spend of each agent (tokens, cost) in each budget's current window, against its limit.

    Workflow-run budgets show the agent's most expensive run.
    """
    from longboat.gateway import ModelsPolicyData, PolicyBundle

    bundle = PolicyBundle.from_dir(folder)
    data = ModelsPolicyData.of_bundle(bundle.data.get("longboat/models"))
    usage = run_async(_read(settings_from(ctx)))
    rows = _rows(usage, data, utc_now(), agent)
    if not rows:
        click.echo("no model usage recorded" + (f" for {agent}" if agent else ""))
    for row in rows:
        if as_json:
            click.echo(json.dumps(row))
            continue
        limit = ", ".join(
            f"{row[k]} of {row['max_' + k]} {k} ({row['used_' + k]:.0%})"
            for k in ("tokens", "cost")
            if row.get("max_" + k) is not None
        )
        click.echo(
            f"{row['agent']:<20} {row['budget']:<12} {row['window']:<29} {limit}"
            + ("  APPROACHING" if row["approaching"] else "")
            + ("  EXCEEDED" if row["exceeded"] else "")
        )


async def _read(settings: Settings) -> list[ModelUsage]:
    from longboat.gateway import MODEL_USAGE

    topic = TopicNames(settings.topic_prefix).models_usage
    return [r.value async for r in read_decoded(settings.kafka, topic, MODEL_USAGE) if r.value]


def _rows(
    usage: list[ModelUsage], data: ModelsPolicyData, now: datetime, only: str | None
) -> list[dict[str, object]]:
    """One JSON-ready row per (agent, budget); fractions only for the limits a budget sets."""
    from longboat.gateway import budget_report

    return [
        {k: v for k, v in status.model_dump().items() if v is not None or not k.startswith("used_")}
        for status in budget_report(usage, data, now, agent=only)
    ]
