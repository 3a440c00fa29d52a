"""Settings of the policy gateway (``LONGBOAT_GATEWAY__<FIELD>``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from longboat import Settings
from longboat.gateway._embeddings import EmbeddingsSettings
from longboat.llm import LLMSettings

__all__ = ["GatewayServiceSettings", "GatewaySettings"]


class GatewayServiceSettings(BaseModel):
    """How the gateway runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8480, ge=0, le=65535)
    instance: str | None = Field(
        default=None, description="reported in policy status; default host name"
    )
    opa_timeout_ms: int = Field(default=50, ge=1, le=10_000, description="then: deny (fail closed)")
    tools_file: Path | None = Field(default=None, description="JSON file declaring the tools")
    rate_limit_per_minute: int = Field(default=600, ge=1, le=1_000_000, description="per agent")
    decision_log: bool = True
    llm: LLMSettings = Field(
        default=LLMSettings(),
        description="the model provider behind /v1/models (the gateway holds its API key)",
    )
    embeddings: EmbeddingsSettings = Field(
        default=EmbeddingsSettings(),
        description="an OpenAI-compatible /embeddings endpoint for semantic memory search",
    )


class GatewaySettings(Settings):
    """The kernel's settings plus the gateway's."""

    gateway: GatewayServiceSettings = GatewayServiceSettings()
