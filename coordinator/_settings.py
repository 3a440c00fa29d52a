"""Settings of the coordinator (``LONGBOAT_COORDINATOR__<FIELD>``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from longboat import Settings
from longboat.coordinator._console_auth import BearerScheme, ConsoleAuth
from longboat.errors import ConfigError

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
    checkpoint_adaptive: bool = Field(
        default=True, description="commit at once when idle (the agents' setting, docs/agents.md)"
    )
    operator_token_file: Path | None = Field(
        default=None, description="approver token (else LONGBOAT_OPERATOR_TOKEN)"
    )
    viewer_token_file: Path | None = Field(default=None, description="read-only token")
    bearer: BearerScheme | None = Field(default=None, description="an OIDC issuer's JWTs")
    stale_after_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="an instance without a heartbeat this long is stale",
    )
    session_ttl_s: int = Field(default=8 * 3600, ge=60, le=7 * 24 * 3600)


class CoordinatorSettings(Settings):
    """The kernel's settings plus the coordinator's."""

    coordinator: CoordinatorServiceSettings = CoordinatorServiceSettings()

    def console_auth(self) -> ConsoleAuth:
        """Mission Control's authentication, from the configured tokens.

        Raises:
            ConfigError: No operator token is configured (Mission Control never runs open),
                or a token file is unreadable or a token too short.
        """
        service = self.coordinator
        approver = _token(service.operator_token_file, self.operator_token, "OPERATOR_TOKEN_FILE")
        if approver is None:
            raise ConfigError(
                "the coordinator needs an operator token for Mission Control: set "
                "LONGBOAT_OPERATOR_TOKEN or LONGBOAT_COORDINATOR__OPERATOR_TOKEN_FILE "
                "(e.g. `openssl rand -hex 32`)"
            )
        viewer = _token(service.viewer_token_file, None, "VIEWER_TOKEN_FILE")
        return ConsoleAuth(
            approver_token=approver,
            viewer_token=viewer,
            bearer=service.bearer,
            session_ttl_s=service.session_ttl_s,
        )


def _token(path: Path | None, value: SecretStr | None, setting: str) -> str | None:
    token = value.get_secret_value() if value is not None else None
    if path is not None:
        try:
            token = path.read_text().strip()
        except OSError as e:
            raise ConfigError(f"LONGBOAT_COORDINATOR__{setting} {path}: cannot read it: {e}") from e
    if token is not None and len(token) < 16:
        raise ConfigError(f"the token of LONGBOAT_COORDINATOR__{setting} needs 16+ characters")
    return token
