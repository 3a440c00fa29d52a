"""Settings of the registry service (``LONGBOAT_REGISTRY__<FIELD>``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from longboat import Settings
from longboat.errors import ConfigError

__all__ = ["RegistryServiceSettings", "RegistrySettings"]


class RegistryServiceSettings(BaseModel):
    """How the registry service runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8460, ge=0, le=65535)
    rotation_grace_s: int = Field(default=3600, ge=0, le=30 * 24 * 3600)
    token_max_lifetime_s: int = Field(default=3600, ge=10, le=24 * 3600)
    operator_token_file: Path | None = Field(
        default=None, description="e.g. a mounted Kubernetes secret"
    )


class RegistrySettings(Settings):
    """The kernel's settings plus the registry service's."""

    registry: RegistryServiceSettings = RegistryServiceSettings()

    def expected_operator_token(self) -> str:
        """The operator token mutating calls must present.

        Raises:
            ConfigError: Neither LONGBOAT_OPERATOR_TOKEN nor the token file is set (or it is
                unreadable or too short).
        """
        token: SecretStr | None = self.operator_token
        path = self.registry.operator_token_file
        if path is not None:
            try:
                token = SecretStr(path.read_text().strip())
            except OSError as e:
                raise ConfigError(
                    f"LONGBOAT_REGISTRY__OPERATOR_TOKEN_FILE {path}: cannot read it: {e}"
                ) from e
        if token is None:
            raise ConfigError(
                "the registry needs an operator token: set LONGBOAT_OPERATOR_TOKEN or "
                "LONGBOAT_REGISTRY__OPERATOR_TOKEN_FILE (e.g. `openssl rand -hex 32`)"
            )
        value = token.get_secret_value()
        if len(value) < 16:
            raise ConfigError("the operator token must be at least 16 characters")
        return value
