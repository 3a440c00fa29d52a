"""Translation of aiokafka exceptions into Longboat's error hierarchy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aiokafka import errors as ak

from longboat.errors import (
    BrokerUnavailable,
    KafkaError,
    KafkaTimeout,
    LongboatError,
    ProducerFenced,
    RetryableError,
)

__all__ = ["translate_kafka_errors"]


def _translate(error: ak.KafkaError, servers: str) -> LongboatError:
    if isinstance(error, ak.KafkaConnectionError):
        return BrokerUnavailable(f"no Kafka broker answered at {servers}: {error}")
    if isinstance(error, ak.KafkaTimeoutError | ak.RequestTimedOutError):
        return KafkaTimeout(f"Kafka request timed out ({servers}): {error}")
    if isinstance(error, ak.ProducerFenced | ak.InvalidProducerEpoch):
        return ProducerFenced(f"producer was fenced by a newer instance: {error}")
    if getattr(error, "retriable", False):
        return RetryableError(f"Kafka: {type(error).__name__}: {error}")
    return KafkaError(f"Kafka: {type(error).__name__}: {error}")


@contextmanager
def translate_kafka_errors(servers: str) -> Iterator[None]:
    """Re-raise any aiokafka error inside the block as a :class:`LongboatError`."""
    try:
        yield
    except ak.KafkaError as e:
        raise _translate(e, servers) from e
