"""The adversarial suite reuses the gateway world (real Kafka, a fresh real OPA per test)."""

from tests.integration.gateway.conftest import world

__all__ = ["world"]
