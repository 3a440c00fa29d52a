"""Settings of the coordinator (``LONGBOAT_COORDINATOR__<FIELD>``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from longboat import Settings

__all__ = ["CoordinatorServiceSettings", "CoordinatorSettings"]


class CoordinatorServiceSettings(BaseModel):
    """How the coordinator runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    definitions: Path = Field(
        default=Path("workflows"), description="folder of workflow YAML files"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8470, ge=0, le=65535)
    instance: str | None = Field(default=None, description="static member id; default host name")
    timer_interval_s: float = Field(default=0.2, gt=0, le=60)
    checkpoint_ms: int = Field(default=50, ge=1, le=60_000)


class CoordinatorSettings(Settings):
    """The kernel's settings plus the coordinator's."""

    coordinator: CoordinatorServiceSettings = CoordinatorServiceSettings()
