"""Longboat's kernel: the event envelope, serde, settings, logging, errors and topic names.

The typed Kafka adapter is :mod:`longboat.kafka`; local infrastructure is
:mod:`longboat.devinfra`; the command line is :mod:`longboat.cli`.
"""

from longboat._envelope import CLOUDEVENTS_SPECVERSION, Envelope, new_event_id, utc_now
from longboat._logging import configure_logging, get_logger
from longboat._serde import DEFAULT_MAX_EVENT_BYTES, EncodedEvent, EnvelopeSerde
from longboat._settings import KafkaSettings, Settings, load_settings, load_settings_as
from longboat._topics import TopicNames, TopicSpec, validate_agent_name

__all__ = [
    "CLOUDEVENTS_SPECVERSION",
    "DEFAULT_MAX_EVENT_BYTES",
    "EncodedEvent",
    "Envelope",
    "EnvelopeSerde",
    "KafkaSettings",
    "Settings",
    "TopicNames",
    "TopicSpec",
    "configure_logging",
    "get_logger",
    "load_settings",
    "load_settings_as",
    "new_event_id",
    "utc_now",
    "validate_agent_name",
]
