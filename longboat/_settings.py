"""Settings shared by every Longboat process (``LONGBOAT_`` environment variables).

Precedence, highest first: keyword arguments, environment variables, the addresses recorded
by ``longboat dev up`` (``<dev_home>/dev/state.json``), then the defaults below.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from longboat._serde import DEFAULT_MAX_EVENT_BYTES
from longboat.errors import ConfigError

__all__ = ["DEV_STATE_FILE", "KafkaSettings", "Settings", "load_settings", "load_settings_as"]

ENV_PREFIX = "LONGBOAT_"
DEV_STATE_FILE = Path("dev") / "state.json"
_TOPIC_PREFIX = re.compile(r"^[a-zA-Z0-9._-]{0,100}$")

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI", "OAUTHBEARER"]


class KafkaSettings(BaseModel):
    """How to reach the Kafka cluster (``LONGBOAT_KAFKA__<FIELD>``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bootstrap_servers: str = Field(default="127.0.0.1:9092", min_length=1)
    client_id: str = "longboat"
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_password: SecretStr | None = None
    ssl_check_hostname: bool = True
    request_timeout_ms: int = Field(default=30_000, ge=1_000)

    @model_validator(mode="after")
    def _sasl_complete(self) -> Self:
        if self.security_protocol.startswith("SASL") and self.sasl_mechanism is None:
            raise ValueError(
                f"security_protocol={self.security_protocol} needs sasl_mechanism "
                "(set LONGBOAT_KAFKA__SASL_MECHANISM, e.g. SCRAM-SHA-512)"
            )
        needs_password = self.sasl_mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
        if needs_password and (self.sasl_username is None or self.sasl_password is None):
            raise ValueError(
                f"sasl_mechanism={self.sasl_mechanism} needs LONGBOAT_KAFKA__SASL_USERNAME "
                "and LONGBOAT_KAFKA__SASL_PASSWORD"
            )
        return self

    @property
    def servers(self) -> list[str]:
        """The bootstrap servers as a list of ``host:port``."""
        return [s.strip() for s in self.bootstrap_servers.split(",") if s.strip()]


class Settings(BaseSettings):
    """Settings of every Longboat process; build once at start-up and pass down."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
    )

    kafka: KafkaSettings = KafkaSettings()
    topic_prefix: str = "lb."
    opa_url: str = "http://127.0.0.1:8181"
    gateway_url: str = "http://127.0.0.1:8480"
    coordinator_url: str = "http://127.0.0.1:8470"
    registry_url: str = "http://127.0.0.1:8460"
    operator_token: SecretStr | None = Field(
        default=None,
        description="bearer token for mutating registry calls (LONGBOAT_OPERATOR_TOKEN)",
    )
    max_event_bytes: int = Field(default=DEFAULT_MAX_EVENT_BYTES, ge=1024, le=100_000_000)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    dev_home: Path = Path(".longboat")

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not _TOPIC_PREFIX.match(self.topic_prefix):
            raise ValueError(
                f"topic_prefix {self.topic_prefix!r} may hold only letters, digits, '.', '_' "
                "and '-' (at most 100 characters)"
            )
        for name in ("opa_url", "gateway_url", "coordinator_url", "registry_url"):
            url = getattr(self, name)
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{name} {url!r} must start with http:// or https://")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Insert the ``longboat dev up`` addresses below the environment."""
        return (
            init_settings,
            env_settings,
            _DevStateSource(settings_cls),
            file_secret_settings,
        )


class _DevStateSource(PydanticBaseSettingsSource):
    """The broker and OPA addresses that ``longboat dev up`` recorded, if it is running."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        home = Path(os.environ.get(ENV_PREFIX + "DEV_HOME", ".longboat"))
        self._path = home / DEV_STATE_FILE

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        try:
            state = json.loads(self._path.read_text())
        except (OSError, ValueError):
            return {}
        values: dict[str, Any] = {}
        if isinstance(state, dict):
            if isinstance(state.get("bootstrap_servers"), str):
                values["kafka"] = {"bootstrap_servers": state["bootstrap_servers"]}
            if isinstance(state.get("opa_url"), str):
                values["opa_url"] = state["opa_url"]
        return values


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning validation errors into a :class:`ConfigError`.

    The message names the environment variable to fix, e.g.
    ``LONGBOAT_KAFKA__SECURITY_PROTOCOL: Input should be 'PLAINTEXT', ...``.
    """
    return load_settings_as(Settings, **overrides)


S = TypeVar("S", bound=Settings)


def load_settings_as(settings_cls: type[S], **overrides: Any) -> S:
    """Like :func:`load_settings` for a service's subclass of :class:`Settings`."""
    try:
        return settings_cls(**overrides)
    except ValidationError as e:
        problems = []
        for item in e.errors(include_url=False):
            env = ENV_PREFIX + "__".join(str(p).upper() for p in item["loc"])
            problems.append(f"{env.rstrip('_')}: {item['msg']}")
        raise ConfigError("invalid settings: " + "; ".join(problems)) from e
