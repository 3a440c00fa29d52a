"""The one mapping from a fleet file to each process's ``LONGBOAT_*`` environment.

``longboat fleet up`` starts every process with what :func:`process_environment` returns, and the
Helm chart renders the same variables into its pods (a chart test compares them, leaving out
:data:`PLATFORM_VARIABLES`: addresses, ports and file paths, which differ between one machine
and a cluster). Secrets are never in the result: the Kafka password and the LLM API key come
from the environment locally and from Secrets on Kubernetes (docs/fleet.md).

Agents send ``ctx.llm`` through the gateway unless the fleet's ``llm.route`` or the agent's
``llmRoute`` says ``direct``; the gateway always gets the provider settings, and the API key
goes to the gateway, and to an agent only when that agent calls the provider directly.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict

from longboat.errors import ConfigError
from longboat.fleet._model import AgentSpec, Fleet

__all__ = [
    "PLATFORM_VARIABLES",
    "Component",
    "ProcessAddresses",
    "agent_llm_key",
    "gateway_llm_key",
    "llm_route",
    "process_environment",
    "tools_file_content",
]

Component = Literal["registry", "gateway", "coordinator", "agent"]

# Where things are differs by platform (loopback ports here, Services and mounts in a cluster).
PLATFORM_VARIABLES = frozenset(
    {
        "LONGBOAT_KAFKA__BOOTSTRAP_SERVERS",
        "LONGBOAT_KAFKA__SSL_CAFILE",
        "LONGBOAT_REGISTRY_URL",
        "LONGBOAT_GATEWAY_URL",
        "LONGBOAT_COORDINATOR_URL",
        "LONGBOAT_OPA_URL",
        "LONGBOAT_REGISTRY__HOST",
        "LONGBOAT_REGISTRY__PORT",
        "LONGBOAT_REGISTRY__OPERATOR_TOKEN_FILE",
        "LONGBOAT_COORDINATOR__OPERATOR_TOKEN_FILE",
        "LONGBOAT_GATEWAY__HOST",
        "LONGBOAT_GATEWAY__PORT",
        "LONGBOAT_GATEWAY__INSTANCE",
        "LONGBOAT_GATEWAY__TOOLS_FILE",
        "LONGBOAT_COORDINATOR__HOST",
        "LONGBOAT_COORDINATOR__PORT",
        "LONGBOAT_COORDINATOR__INSTANCE",
        "LONGBOAT_COORDINATOR__DEFINITIONS",
        "LONGBOAT_AGENT__HTTP_HOST",
        "LONGBOAT_AGENT__HTTP_PORT",
        "LONGBOAT_AGENT__INSTANCE",
        "LONGBOAT_AGENT__KEY_FILE",
    }
)


class ProcessAddresses(BaseModel):
    """Where one process finds the others and its own files, on this platform."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bootstrap_servers: str
    registry_url: str
    gateway_url: str
    coordinator_url: str
    host: str = "127.0.0.1"
    port: int
    opa_url: str | None = None  # the gateway's own OPA
    tools_file: str | None = None  # the gateway's generated tools file
    definitions: str | None = None  # the coordinator's folder of workflow files
    key_file: str | None = None  # the agent's private key
    operator_token_file: str | None = None  # the registry's operator token
    kafka_ca_file: str | None = None  # the CA of kafka.tls.caSecret, mounted as a file


def process_environment(
    fleet: Fleet,
    component: Component,
    *,
    instance: str,
    addresses: ProcessAddresses,
    agent: AgentSpec | str | None = None,
) -> dict[str, str]:
    """The ``LONGBOAT_*`` variables of one process of ``fleet``.

    Args:
        fleet: The fleet.
        component: Which kind of process.
        instance: Its instance name (``triage-0``, ``triage-canary-0``, ``gateway-1``, ...).
        addresses: Where it finds the rest, and its port and files.
        agent: When ``component`` is ``agent``: its entry of ``fleet.agents`` (an active or a
            canary one), or a name, meaning that agent's active entry.

    Raises:
        ConfigError: ``agent`` is missing, names no agent of the fleet, or is no entry of it.
    """
    env = _common(fleet, addresses)
    if component == "registry":
        env |= _registry(addresses)
    elif component == "gateway":
        env |= _gateway(fleet, instance, addresses)
    elif component == "coordinator":
        env |= _coordinator(fleet, instance, addresses)
    else:
        env |= _agent(fleet, _agent_spec(fleet, agent), instance, addresses)
    return env


def _agent_spec(fleet: Fleet, agent: AgentSpec | str | None) -> AgentSpec:
    if isinstance(agent, AgentSpec):
        if agent not in fleet.agents:
            raise ConfigError(f"fleet {fleet.name} has no entry {agent.name} {agent.version}")
        return agent
    for spec in fleet.agents:
        # A name alone means the active entry: the canary is asked for by its entry.
        if spec.name == agent and spec.status == "active":
            return spec
    raise ConfigError(f"fleet {fleet.name} has no agent {agent!r}")


def _common(fleet: Fleet, addresses: ProcessAddresses) -> dict[str, str]:
    kafka = fleet.kafka
    env = {
        "LONGBOAT_KAFKA__BOOTSTRAP_SERVERS": addresses.bootstrap_servers,
        "LONGBOAT_KAFKA__SECURITY_PROTOCOL": kafka.security_protocol,
        "LONGBOAT_TOPIC_PREFIX": kafka.topic_prefix,
        "LONGBOAT_REGISTRY_URL": addresses.registry_url,
        "LONGBOAT_GATEWAY_URL": addresses.gateway_url,
        "LONGBOAT_COORDINATOR_URL": addresses.coordinator_url,
        "LONGBOAT_LOG_FORMAT": "json",
    }
    if kafka.security_protocol.startswith("SASL") and kafka.sasl is not None:
        # The password is a secret: LONGBOAT_KAFKA__SASL_PASSWORD from the environment/Secret.
        env["LONGBOAT_KAFKA__SASL_MECHANISM"] = kafka.sasl.mechanism
        env["LONGBOAT_KAFKA__SASL_USERNAME"] = kafka.sasl.username
    if kafka.tls is not None and kafka.tls.ca_secret is not None and addresses.kafka_ca_file:
        env["LONGBOAT_KAFKA__SSL_CAFILE"] = addresses.kafka_ca_file
    return env | fleet.env


def _registry(addresses: ProcessAddresses) -> dict[str, str]:
    env = {
        "LONGBOAT_REGISTRY__HOST": addresses.host,
        "LONGBOAT_REGISTRY__PORT": str(addresses.port),
    }
    if addresses.operator_token_file:
        env["LONGBOAT_REGISTRY__OPERATOR_TOKEN_FILE"] = addresses.operator_token_file
    return env


def _gateway(fleet: Fleet, instance: str, addresses: ProcessAddresses) -> dict[str, str]:
    gateway = fleet.gateway
    env = {
        "LONGBOAT_GATEWAY__HOST": addresses.host,
        "LONGBOAT_GATEWAY__PORT": str(addresses.port),
        "LONGBOAT_GATEWAY__INSTANCE": instance,
        "LONGBOAT_GATEWAY__OPA_TIMEOUT_MS": str(gateway.opa_timeout_ms),
        "LONGBOAT_GATEWAY__RATE_LIMIT_PER_MINUTE": str(gateway.rate_limit_per_minute),
        "LONGBOAT_GATEWAY__DECISION_LOG": "true" if gateway.decision_log else "false",
    }
    env |= _gateway_llm(fleet) | _gateway_embeddings(fleet)
    if addresses.opa_url:
        env["LONGBOAT_OPA_URL"] = addresses.opa_url
    if fleet.tools and addresses.tools_file:
        env["LONGBOAT_GATEWAY__TOOLS_FILE"] = addresses.tools_file
    return env


def _gateway_llm(fleet: Fleet) -> dict[str, str]:
    """The provider behind ``/v1/models`` (its API key is a secret, not part of this)."""
    llm = fleet.llm
    env = {
        "LONGBOAT_GATEWAY__LLM__PROVIDER": llm.provider,
        "LONGBOAT_GATEWAY__LLM__MODEL": llm.model,
    }
    if llm.base_url:
        env["LONGBOAT_GATEWAY__LLM__BASE_URL"] = llm.base_url
    return env


def _gateway_embeddings(fleet: Fleet) -> dict[str, str]:
    """The embeddings endpoint of semantic search, if any (its API key is a secret)."""
    embeddings = fleet.gateway.embeddings
    if not embeddings.base_url:
        return {}
    prefix = "LONGBOAT_GATEWAY__EMBEDDINGS__"
    return {
        f"{prefix}BASE_URL": embeddings.base_url,
        f"{prefix}MODEL": embeddings.model,
        f"{prefix}BATCH_SIZE": str(embeddings.batch_size),
        f"{prefix}CONCURRENCY": str(embeddings.concurrency),
        f"{prefix}INCLUDE_PII": "true" if embeddings.include_pii else "false",
    }


def llm_route(fleet: Fleet, spec: AgentSpec) -> str:
    """How ``spec``'s ``ctx.llm`` is routed: its own ``llmRoute``, else the fleet's."""
    return spec.llm_route or fleet.llm.route


def _coordinator(fleet: Fleet, instance: str, addresses: ProcessAddresses) -> dict[str, str]:
    env = {
        "LONGBOAT_COORDINATOR__HOST": addresses.host,
        "LONGBOAT_COORDINATOR__PORT": str(addresses.port),
        "LONGBOAT_COORDINATOR__INSTANCE": instance,
        "LONGBOAT_COORDINATOR__TIMER_INTERVAL_S": str(fleet.coordinator.timer_interval_s),
    }
    if addresses.definitions:
        env["LONGBOAT_COORDINATOR__DEFINITIONS"] = addresses.definitions
    if addresses.operator_token_file:
        env["LONGBOAT_COORDINATOR__OPERATOR_TOKEN_FILE"] = addresses.operator_token_file
    return env


def _agent(
    fleet: Fleet, spec: AgentSpec, instance: str, addresses: ProcessAddresses
) -> dict[str, str]:
    llm = fleet.llm
    # The agent's own extra variables first: the fleet's own settings cannot be overridden
    # (the model refuses reserved names; this order makes that hold even if it did not).
    env = dict(spec.env)
    env |= {
        "LONGBOAT_AGENT__NAME": spec.name,
        "LONGBOAT_AGENT__VERSION": spec.version,
        "LONGBOAT_AGENT__INSTANCE": instance,
        "LONGBOAT_AGENT__HTTP_HOST": addresses.host,
        "LONGBOAT_AGENT__HTTP_PORT": str(addresses.port),
        "LONGBOAT_LLM__PROVIDER": llm.provider,
        "LONGBOAT_LLM__MODEL": llm.model,
        # Through the gateway by default: policy, budgets and the API key live there.
        "LONGBOAT_LLM__ROUTE": llm_route(fleet, spec),
    }
    if spec.durability is not None:
        env["LONGBOAT_AGENT__DURABILITY"] = spec.durability
    if llm.base_url:
        env["LONGBOAT_LLM__BASE_URL"] = llm.base_url
    if addresses.key_file:
        env["LONGBOAT_AGENT__KEY_FILE"] = addresses.key_file
    return env


_LLM_KEY = "LONGBOAT_LLM__API_KEY"
_GATEWAY_LLM_KEY = "LONGBOAT_GATEWAY__LLM__API_KEY"


def gateway_llm_key(environment: dict[str, str]) -> dict[str, str]:
    """A local gateway's environment: the user's ``LONGBOAT_LLM__API_KEY`` is the gateway's key.

    One variable for the user to set (docs/fleet.md), whichever process calls the provider; a
    ``LONGBOAT_GATEWAY__LLM__API_KEY`` of its own wins.
    """
    if _LLM_KEY in environment and _GATEWAY_LLM_KEY not in environment:
        return {**environment, _GATEWAY_LLM_KEY: environment[_LLM_KEY]}
    return environment


def agent_llm_key(environment: dict[str, str]) -> dict[str, str]:
    """A local agent's environment without the API key unless it calls the provider directly.

    Least privilege: an agent routed through the gateway never needs the key.
    """
    if environment.get("LONGBOAT_LLM__ROUTE") == "direct":
        return environment
    return {k: v for k, v in environment.items() if k != _LLM_KEY}


def tools_file_content(fleet: Fleet) -> str:
    """The gateway's tools file (``LONGBOAT_GATEWAY__TOOLS_FILE``) for the fleet's tools."""
    # Secret references are the chart's business (they fill the gateway's variables); the
    # gateway's tools file names only the variables.
    tools = {
        name: spec.model_dump(mode="json", exclude={"secrets"})
        for name, spec in fleet.tools.items()
    }
    return json.dumps({"tools": tools}, indent=2, sort_keys=True) + "\n"
