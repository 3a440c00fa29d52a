"""``longboat budgets``: model spend per agent against the budgets in the policy data."""

from __future__ import annotations

import json
from collections import defaultdict
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

_WINDOWS = {"hour": 3600, "day": 86_400}


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
            f"{row['agent']:<20} {row['budget']:<12} {row['window']:<18} {limit}"
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
    from longboat.gateway import window_bounds

    by_agent: dict[str, list[ModelUsage]] = defaultdict(list)
    for entry in usage:
        if only is None or entry.agent == only:
            by_agent[entry.agent].append(entry)
    warn_at = data.model_extra.get("warn_at", 0.8) if data.model_extra else 0.8
    rows: list[dict[str, object]] = []
    for agent, entries in sorted(by_agent.items()):
        for name, spec in sorted(data.budgets.items()):
            if spec.window == "workflow":
                runs: dict[str, list[ModelUsage]] = defaultdict(list)
                for entry in entries:
                    runs[entry.workflow_id or "-"].append(entry)
                label, spent = max(runs.items(), key=lambda r: _tokens(r[1]))
                window = f"run {label[:12]}"
            else:
                size = _WINDOWS[spec.window] if isinstance(spec.window, str) else spec.window
                start, end = window_bounds(now, size)
                spent = [e for e in entries if start <= e.time < end]
                window = f"until {end:%H:%M:%S}"
            row: dict[str, object] = {
                "agent": agent,
                "budget": name,
                "window": window,
                "tokens": _tokens(spent),
                "cost": round(sum(e.cost for e in spent), 6),
                "max_tokens": spec.max_tokens,
                "max_cost": spec.max_cost,
            }
            rows.append(_judged(row, float(warn_at)))
    return rows


def _tokens(entries: list[ModelUsage]) -> int:
    return sum(e.input_tokens + e.output_tokens for e in entries)


def _judged(row: dict[str, object], warn_at: float) -> dict[str, object]:
    """Add used fractions and the policy's verdicts (same thresholds as models.rego)."""
    fractions = []
    for k in ("tokens", "cost"):
        limit, spent = row["max_" + k], row[k]
        if isinstance(limit, int | float) and isinstance(spent, int | float):
            used = 1.0 if limit == 0 else spent / limit
            row["used_" + k] = used
            fractions.append(used)
    row["exceeded"] = any(f >= 1 for f in fractions)
    row["approaching"] = not row["exceeded"] and any(f >= warn_at for f in fractions)
    return row
