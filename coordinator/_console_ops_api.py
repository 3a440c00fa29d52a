"""Mission Control's operations answers: gateways' policies, registry changes, budgets, failures.

=========================================  ==================  ============================
route                                      request             answer
=========================================  ==================  ============================
``GET /v1/gateways``                       —                   :class:`PolicyStatusAnswer`
``GET /v1/registry/changes``               —                   :class:`RegistryChangeList`
``GET /v1/budgets``                        —                   :class:`BudgetsAnswer`
``GET /v1/failures[?workflow=]``           —                   :class:`FailureList`
``GET /v1/runs/{agent}/{run_id}``          —                   ``longboat.agents.Trace``
=========================================  ==================  ============================
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from longboat.gateway import BudgetStatus

__all__ = [
    "BudgetsAnswer",
    "FailureList",
    "FailureRow",
    "GatewayRow",
    "PolicyStatusAnswer",
    "PublishedBundle",
    "RegistryChange",
    "RegistryChangeKind",
    "RegistryChangeList",
]


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PublishedBundle(_Answer):
    """A policy bundle as ``longboat policy publish`` wrote it to ``lb.policies``."""

    name: str
    digest: str
    published_at: datetime


class GatewayRow(_Answer):
    """What one gateway reports it runs (its status record on ``lb.policies``)."""

    gateway: str
    bundle: str
    digest: str | None
    loaded_at: datetime
    ok: bool
    error: str | None = None
    current: bool = Field(description="runs the digest that is published for its bundle")


class PolicyStatusAnswer(_Answer):
    """The published bundles and the digest each gateway runs (``longboat policy status``)."""

    published: list[PublishedBundle]
    gateways: list[GatewayRow]


RegistryChangeKind = Literal["enrolled", "key_rotated", "status_changed", "removed"]


class RegistryChange(_Answer):
    """One change an operator made in the registry (heartbeats are not changes)."""

    time: datetime
    agent_id: str
    version: str | None = None
    kind: RegistryChangeKind
    detail: str


class RegistryChangeList(_Answer):
    """The registry's recent changes, newest first."""

    changes: list[RegistryChange]


class BudgetsAnswer(_Answer):
    """Spend against every budget of the published policy data (``longboat budgets``)."""

    warn_at: float = Field(description="fraction of a limit reported as approaching")
    bundle_digest: str | None = Field(description="the bundle whose budgets these are")
    budgets: list[BudgetStatus]
    problem: str | None = Field(default=None, description="why no budgets can be shown")


class FailureRow(_Answer):
    """A failed step of a failed workflow, with the agent run and dead letter behind it."""

    workflow_id: str
    step: str
    agent: str | None
    task_id: str | None
    error: str | None
    run_id: str | None = Field(description="the agent's run: its trace is /v1/runs/{agent}/{run}")
    dead_letter_id: str | None = None
    replayed: bool | None = None


class FailureList(_Answer):
    """Failed steps (of one workflow, or of every failed workflow)."""

    failures: list[FailureRow]
