"""Longboat's error hierarchy.

Every error Longboat raises derives from :class:`LongboatError` and carries a stable
``code`` (never renamed: logs, dead-letter records and alerts key on it) and a
``retryable`` flag that the one retry layer reads::

    LongboatError                      code            retryable
    ├── RetryableError                                 yes
    │   ├── BrokerUnavailable          broker_unavailable
    │   ├── KafkaTimeout               kafka_timeout
    │   └── OpaUnavailable             opa_unavailable
    └── TerminalError                                  no
        ├── ConfigError                config_invalid
        ├── InfraError                 infra_failed
        │   └── ToolMissing            tool_missing
        ├── EventError                 event_invalid
        │   ├── EventDecodeError       event_undecodable
        │   └── EventTooLarge          event_too_large
        ├── KafkaError                 kafka_failed
        │   ├── TopicError             topic_failed
        │   └── ProducerFenced         producer_fenced
        └── UsageError                 usage_invalid
            ├── JsonInvalid            json_invalid        (longboat)
            └── JsonTooLarge           json_too_large      (longboat)

The components add their own leaves, each under the branch that says what the caller may do::

    RetryableError
    ├── JournalUnavailable             journal_unavailable      longboat.agents
    ├── LLMUnavailable                 llm_unavailable          longboat.llm
    ├── GatewayUnavailable             gateway_unavailable      longboat.gateway
    ├── ToolUnavailable                tool_unavailable         longboat.gateway
    ├── EmbeddingsUnavailable          embeddings_unavailable   longboat.gateway
    ├── RegistryUnavailable            registry_unavailable     longboat.registry
    └── CoordinatorUnavailable         coordinator_unavailable  longboat.coordinator
    TerminalError
    ├── LLMRejected                    llm_rejected             longboat.llm
    ├── StepFailed                     step_failed              longboat.agents
    ├── GatewayRefused                 gateway_refused          longboat.gateway
    ├── PolicyDenied                   policy_denied            longboat.gateway
    ├── BudgetExceeded                 budget_exceeded          longboat.gateway
    ├── ReplayRefused                  replay_refused           longboat.agents
    ├── PolicyRejected                 policy_rejected          longboat.gateway
    ├── ToolFailed                     tool_failed              longboat.gateway
    ├── ToolInDoubt                    tool_in_doubt            longboat.gateway
    ├── ToolRejected                   tool_rejected            longboat.gateway
    ├── ApprovalTimeout                approval_timeout         longboat.gateway
    ├── RegistryRefused                registry_refused         longboat.registry
    ├── IdentityRefused                identity_refused         longboat.registry
    ├── CoordinatorRefused             coordinator_refused      longboat.coordinator
    └── UsageError
        ├── MemoryTooLarge             memory_too_large         longboat.gateway
        ├── EmbeddingsNotConfigured    embeddings_not_configured  longboat.gateway
        ├── UnknownAgent               agent_unknown            longboat.registry
        ├── HeartbeatInvalid           heartbeat_invalid        longboat.registry
        └── RecordTooLarge             record_too_large         longboat.registry

``tests/unit/test_errors.py`` checks that every error class in the installed packages has a
code of its own and appears in these trees.

Third-party exceptions are translated where the library is called (``raise ... from e``);
nothing outside the adapters sees an aiokafka or OPA exception.
"""

from __future__ import annotations

__all__ = [
    "BrokerUnavailable",
    "ConfigError",
    "EventDecodeError",
    "EventError",
    "EventTooLarge",
    "InfraError",
    "KafkaError",
    "KafkaTimeout",
    "LongboatError",
    "OpaUnavailable",
    "ProducerFenced",
    "RetryableError",
    "TerminalError",
    "ToolMissing",
    "TopicError",
    "UsageError",
]


class LongboatError(Exception):
    """Root of every error Longboat raises."""

    code: str = "longboat_error"
    retryable: bool = False


class RetryableError(LongboatError):
    """A transient failure: the same call may succeed later."""

    code = "retryable"
    retryable = True


class TerminalError(LongboatError):
    """A failure that retrying cannot fix."""

    code = "terminal"


class BrokerUnavailable(RetryableError):
    """No Kafka broker answered at the configured bootstrap servers."""

    code = "broker_unavailable"


class KafkaTimeout(RetryableError):
    """A Kafka request did not complete in time."""

    code = "kafka_timeout"


class OpaUnavailable(RetryableError):
    """The OPA server did not answer."""

    code = "opa_unavailable"


class ConfigError(TerminalError):
    """Settings or a configuration file are invalid; the message names the field and the fix."""

    code = "config_invalid"


class InfraError(TerminalError):
    """Local infrastructure (Kafka, OPA) could not be provisioned or started."""

    code = "infra_failed"


class ToolMissing(InfraError):
    """A build tool (java, mvn, go) needed to provision local infrastructure is missing."""

    code = "tool_missing"


class EventError(TerminalError):
    """An event is invalid."""

    code = "event_invalid"


class EventDecodeError(EventError):
    """A Kafka record could not be decoded into an event envelope."""

    code = "event_undecodable"


class EventTooLarge(EventError):
    """An encoded event is larger than the configured maximum."""

    code = "event_too_large"


class KafkaError(TerminalError):
    """Kafka refused a request for a reason retrying cannot fix."""

    code = "kafka_failed"


class TopicError(KafkaError):
    """A topic could not be created or described."""

    code = "topic_failed"


class ProducerFenced(KafkaError):
    """A newer producer with the same transactional id took over; this one must stop."""

    code = "producer_fenced"


class UsageError(TerminalError):
    """A command was called with invalid arguments or input."""

    code = "usage_invalid"
