"""Options of an agent: durability mode, retry policy, checkpointing and runtime settings."""

from __future__ import annotations

import random
from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from longboat import Settings
from longboat.llm import LLMSettings

__all__ = ["AgentRuntimeSettings", "AgentSettings", "Durability", "LLMSettings", "RetryPolicy"]


class Durability(StrEnum):
    """How much of a run survives a crash (see docs/agents.md)."""

    SYNC = "sync"  # each step's journal record acked before the handler continues
    ASYNC = "async"  # journal records sent without waiting, flushed before the commit
    EXIT = "exit"  # nothing journalled; only the final transaction


class RetryPolicy(BaseModel):
    """Capped exponential backoff with jitter, applied at the step."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_attempts: int = Field(default=5, ge=1, le=100)
    initial_backoff_s: float = Field(default=0.2, ge=0, le=60)
    max_backoff_s: float = Field(default=10.0, ge=0, le=3600)
    multiplier: float = Field(default=2.0, ge=1, le=10)
    jitter: float = Field(default=0.2, ge=0, le=1, description="fraction of the delay randomised")

    @model_validator(mode="after")
    def _cap_above_initial(self) -> Self:
        if self.max_backoff_s < self.initial_backoff_s:
            raise ValueError(
                f"max_backoff_s ({self.max_backoff_s}) must be >= initial_backoff_s "
                f"({self.initial_backoff_s})"
            )
        return self

    def backoff_s(self, attempt: int, rng: random.Random | None = None) -> float:
        """The delay before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        base = min(self.max_backoff_s, self.initial_backoff_s * self.multiplier ** (attempt - 1))
        spread = base * self.jitter
        # Jitter spreads retries of many runs so that they do not hit a provider together.
        return max(0.0, base + (rng or random).uniform(-spread, spread))


class AgentRuntimeSettings(BaseModel):
    """How an agent process runs (``LONGBOAT_AGENT__<FIELD>``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instance: str | None = Field(default=None, description="static member id; default host name")
    checkpoint_records: int = Field(default=100, ge=1, le=100_000)
    checkpoint_ms: int = Field(default=100, ge=1, le=600_000)
    checkpoint_adaptive: bool = Field(
        default=True,
        description=(
            "commit as soon as a run completes when nothing else of its partition is pending; "
            "under load, batch by checkpoint_ms / checkpoint_records"
        ),
    )
    session_timeout_ms: int = Field(default=30_000, ge=6_000, le=1_800_000)
    shutdown_grace_s: float = Field(default=20.0, ge=0, le=600)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8490, ge=0, le=65535, description="0 picks a free port")
    faults: str = Field(default="", description="fault points for chaos tests (docs/agents.md)")
    key_file: Path | None = Field(
        default=None, description="private key from `longboat agents enroll`"
    )
    heartbeat_s: float = Field(default=10.0, gt=0, le=3600)
    # Set by a fleet (docs/fleet.md): the fleet file, not the code, says what runs as what.
    name: str | None = Field(
        default=None, description="the name enrolled in the registry; the Agent must have it"
    )
    version: str | None = Field(default=None, description="overrides the Agent's version")
    durability: Durability | None = Field(default=None, description="overrides the Agent's")


class AgentSettings(Settings):
    """Settings of an agent process: the kernel's plus the runtime's and the LLM's."""

    agent: AgentRuntimeSettings = AgentRuntimeSettings()
    llm: LLMSettings = LLMSettings()
