"""Settings: LONGBOAT_ environment variables, dev-stack addresses, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from longboat import Settings, load_settings
from longboat.errors import ConfigError


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No LONGBOAT_ variable or dev state of the developer's leaks into these tests."""
    import os

    for name in list(os.environ):
        if name.startswith("LONGBOAT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LONGBOAT_DEV_HOME", str(tmp_path / "home"))


def test_defaults() -> None:
    """Without configuration: local broker, lb. prefix, local OPA."""
    settings = load_settings()
    assert settings.kafka.servers == ["127.0.0.1:9092"]
    assert settings.topic_prefix == "lb."
    assert settings.opa_url == "http://127.0.0.1:8181"


def test_environment_overrides_nested_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    """LONGBOAT_KAFKA__* reaches the nested Kafka settings, including SASL."""
    monkeypatch.setenv("LONGBOAT_KAFKA__BOOTSTRAP_SERVERS", "a:1, b:2")
    monkeypatch.setenv("LONGBOAT_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("LONGBOAT_KAFKA__SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("LONGBOAT_KAFKA__SASL_USERNAME", "u")
    monkeypatch.setenv("LONGBOAT_KAFKA__SASL_PASSWORD", "s3cr3t-value")
    monkeypatch.setenv("LONGBOAT_TOPIC_PREFIX", "prod.")
    settings = load_settings()
    assert settings.kafka.servers == ["a:1", "b:2"]
    assert settings.kafka.sasl_password is not None
    assert settings.kafka.sasl_password.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(settings)  # secrets are not printed
    assert settings.topic_prefix == "prod."


def test_dev_state_is_used_below_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Addresses recorded by `longboat dev up` apply unless the environment says otherwise."""
    state = tmp_path / "home" / "dev" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text(
        json.dumps({"bootstrap_servers": "127.0.0.1:19092", "opa_url": "http://127.0.0.1:18181"})
    )
    settings = load_settings()
    assert settings.kafka.bootstrap_servers == "127.0.0.1:19092"
    assert settings.opa_url == "http://127.0.0.1:18181"
    monkeypatch.setenv("LONGBOAT_KAFKA__BOOTSTRAP_SERVERS", "10.0.0.1:9092")
    assert load_settings().kafka.bootstrap_servers == "10.0.0.1:9092"


@pytest.mark.parametrize(
    ("env", "value", "named"),
    [
        ("LONGBOAT_KAFKA__SECURITY_PROTOCOL", "TLS", "LONGBOAT_KAFKA__SECURITY_PROTOCOL"),
        ("LONGBOAT_TOPIC_PREFIX", "bad prefix!", "topic_prefix"),
        ("LONGBOAT_OPA_URL", "127.0.0.1:8181", "opa_url"),
        ("LONGBOAT_MAX_EVENT_BYTES", "12", "LONGBOAT_MAX_EVENT_BYTES"),
    ],
)
def test_invalid_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, named: str
) -> None:
    """A bad value raises ConfigError whose message names what to fix."""
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError, match=named):
        load_settings()


def test_sasl_without_mechanism_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """SASL_SSL without a mechanism names the variable to set."""
    monkeypatch.setenv("LONGBOAT_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(ConfigError, match="LONGBOAT_KAFKA__SASL_MECHANISM"):
        load_settings()


def test_unknown_keyword_is_refused() -> None:
    """extra='forbid' on settings: a typo in code is caught."""
    with pytest.raises(ConfigError, match=r"(?i)opa_ur"):
        load_settings(opa_ur="http://x")


def test_settings_are_frozen() -> None:
    """Settings are built once and never mutated."""
    settings = Settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.topic_prefix = "x."  # type: ignore[misc]
