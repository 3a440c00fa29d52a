"""aiokafka client keyword arguments built from :class:`KafkaSettings`."""

from __future__ import annotations

from typing import Any

from aiokafka.helpers import create_ssl_context

from longboat._settings import KafkaSettings

__all__ = ["client_kwargs"]


def client_kwargs(kafka: KafkaSettings) -> dict[str, Any]:
    """Connection and security options shared by producers, consumers and the admin client."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": kafka.servers,
        "client_id": kafka.client_id,
        "security_protocol": kafka.security_protocol,
        "request_timeout_ms": kafka.request_timeout_ms,
    }
    if kafka.security_protocol in ("SSL", "SASL_SSL"):
        context = create_ssl_context(
            cafile=kafka.ssl_cafile,
            certfile=kafka.ssl_certfile,
            keyfile=kafka.ssl_keyfile,
            password=kafka.ssl_password.get_secret_value() if kafka.ssl_password else None,
        )
        context.check_hostname = kafka.ssl_check_hostname
        kwargs["ssl_context"] = context
    if kafka.sasl_mechanism is not None:
        kwargs["sasl_mechanism"] = kafka.sasl_mechanism
        kwargs["sasl_plain_username"] = kafka.sasl_username
        if kafka.sasl_password is not None:
            kwargs["sasl_plain_password"] = kafka.sasl_password.get_secret_value()
    return kwargs
