"""The fleet file: one YAML document describing a whole fleet (docs/fleet.md).

The same document is the Helm chart's values, so keys are camelCase (Helm's convention) while the
fields are snake_case (``alias_generator=to_camel``). ``helm/longboat/values.schema.json`` is
generated from :class:`Fleet` (``longboat fleet schema``); a unit test keeps the two equal.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from longboat.fleet._tracks import track_problems

__all__ = [
    "CAPABILITY_KINDS",
    "AgentSpec",
    "CoordinatorConfig",
    "Fleet",
    "FleetKafka",
    "GatewayConfig",
    "HttpToolSpec",
    "KubernetesConfig",
    "LlmConfig",
    "McpToolSpec",
    "OpaConfig",
    "PythonToolSpec",
    "ReconcileHookSpec",
    "RegistryConfig",
    "Resources",
    "SecretRef",
]

# Capability kinds an agent may declare: what the registry records and the policies read.
CAPABILITY_KINDS = ("tool", "memory", "profile", "topic", "model", "policy")
# Environment variables the fleet file sets itself: an agent's `env` must not fight them.
RESERVED_ENV_PREFIXES = (
    "LONGBOAT_KAFKA__",
    "LONGBOAT_LLM__",
    "LONGBOAT_TOPIC_PREFIX",
    "LONGBOAT_REGISTRY_URL",
    "LONGBOAT_GATEWAY_URL",
    "LONGBOAT_COORDINATOR_URL",
    "LONGBOAT_OPA_URL",
    "LONGBOAT_OPERATOR_TOKEN",
    "LONGBOAT_AGENT__KEY_FILE",
    "LONGBOAT_AGENT__INSTANCE",
    "LONGBOAT_AGENT__HTTP_PORT",
    "LONGBOAT_AGENT__NAME",
    "LONGBOAT_AGENT__VERSION",
    "LONGBOAT_AGENT__DURABILITY",
)

_DNS_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
_MODULE_ATTR = r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$"
_TOPIC = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")
_TOOL_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$"

Port = Annotated[int, Field(ge=1, le=65535)]
Quantity = Annotated[str, Field(pattern=_QUANTITY, description="Kubernetes quantity: 100m, 128Mi")]


class FleetPart(BaseModel):
    """Base of every part of the fleet file: frozen, unknown keys refused, camelCase keys."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )


class SecretRef(FleetPart):
    """A key of a Kubernetes Secret (locally: an environment variable, see docs/fleet.md)."""

    name: str = Field(max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    key: str = Field(pattern=r"^[-._a-zA-Z0-9]+$")


class Sasl(FleetPart):
    """SASL authentication to Kafka."""

    mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
    username: str = Field(min_length=1)
    password_secret: SecretRef | None = None


class Tls(FleetPart):
    """TLS to Kafka: the CA that signed the brokers' certificates."""

    ca_secret: SecretRef | None = None


class FleetKafka(FleetPart):
    """The Kafka cluster the fleet runs on, and the layout of the topics it creates."""

    bootstrap_servers: str = Field(
        default="", description='"" = the local `longboat dev up` broker (fleet up only)'
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl: Sasl | None = None
    tls: Tls | None = None
    topic_prefix: str = Field(default="lb.", pattern=r"^[a-zA-Z0-9._-]{0,100}$")
    partitions: int = Field(default=3, ge=1, le=10_000)
    replication_factor: int = Field(default=1, ge=1, le=32)

    @model_validator(mode="after")
    def _sasl_when_needed(self) -> Self:
        # sasl without a SASL_* protocol is kept but unused (the contract's example shows both).
        if self.security_protocol.startswith("SASL") and self.sasl is None:
            raise ValueError(
                f"securityProtocol {self.security_protocol} needs sasl — add "
                "sasl: {mechanism: SCRAM-SHA-512, username: ..., passwordSecret: {name, key}}"
            )
        return self


class ResourceQuantities(FleetPart):
    """CPU and memory quantities."""

    cpu: Quantity | None = None
    memory: Quantity | None = None


class Resources(FleetPart):
    """Kubernetes resource requests and limits (``fleet up`` records but does not enforce them)."""

    requests: ResourceQuantities | None = None
    limits: ResourceQuantities | None = None


class RegistryConfig(FleetPart):
    """The registry service: the single writer of ``lb.registry``."""

    replicas: int = Field(default=1, ge=1, le=1, description="one fenced writer")
    port: Port = 8460
    resources: Resources = Resources()


class OpaConfig(FleetPart):
    """The OPA server beside each gateway (fed by the gateway from ``lb.policies``)."""

    version: str = Field(default="v1.22.2", pattern=r"^v\d+\.\d+\.\d+$")
    port: Port = 8181
    resources: Resources = Resources()


class EmbeddingsConfig(FleetPart):
    """The gateway's embeddings endpoint, for semantic memory search (docs/models.md)."""

    base_url: str = Field(
        default="",
        pattern=r"^(https?://.+)?$",
        description='"" = BM25 search only; else an OpenAI-compatible base (…/v1)',
    )
    model: str = Field(default="text-embedding-3-small", min_length=1)
    api_key_secret: SecretRef | None = None
    batch_size: int = Field(default=64, ge=1, le=2048, description="texts per request")
    concurrency: int = Field(default=2, ge=1, le=16, description="requests in flight")
    include_pii: bool = Field(default=False, description="also embed memories with personal data")


class GatewayConfig(FleetPart):
    """The policy gateway(s)."""

    replicas: int = Field(default=1, ge=1, le=50)
    port: Port = 8480
    opa_timeout_ms: int = Field(default=50, ge=1, le=10_000, description="then: deny")
    rate_limit_per_minute: int = Field(default=600, ge=1, le=1_000_000, description="per agent")
    decision_log: bool = True
    opa: OpaConfig = OpaConfig()
    embeddings: EmbeddingsConfig = EmbeddingsConfig()
    resources: Resources = Resources()


class CoordinatorConfig(FleetPart):
    """The workflow coordinator."""

    replicas: int = Field(default=1, ge=1, le=50)
    port: Port = 8470
    timer_interval_s: float = Field(default=0.2, gt=0, le=60)
    resources: Resources = Resources()


LlmRoute = Literal["gateway", "direct"]


class LlmConfig(FleetPart):
    """Which LLM the agents' ``ctx.llm`` calls, and whether through the gateway."""

    provider: Literal["local", "openai"] = "local"
    base_url: str = Field(default="", description='"" = the provider\'s default')
    model: str = Field(default="longboat-local", min_length=1)
    api_key_secret: SecretRef | None = None
    route: LlmRoute = Field(
        default="gateway",
        description="gateway: calls are policy-checked and budgeted by the gateway, which holds "
        "the API key; direct: agents call the provider themselves (an agent's llmRoute wins)",
    )


class HttpToolSpec(FleetPart):
    """A tool behind an HTTP endpoint."""

    kind: Literal["http"]
    url: str = Field(pattern=r"^https?://")
    timeout_s: float = Field(default=10, gt=0, le=600)


class PythonToolSpec(FleetPart):
    """A tool that is a Python callable ``module:attribute`` (relative to ``root``)."""

    kind: Literal["python"]
    callable: str = Field(pattern=_MODULE_ATTR)


class ReconcileHookSpec(FleetPart):
    """A read-only tool of the same server that says whether an in-doubt call took effect."""

    tool: str = Field(min_length=1)
    argument: str = Field(default="idempotency_key", min_length=1)


class McpToolSpec(FleetPart):
    """An upstream MCP server behind the gateway; its tools are ``<name>.<tool>`` (docs/tools.md).

    Credentials are named, never written: ``env_from``/``headers_from`` map a server variable
    or header to a variable of the *gateway's* environment; ``secrets`` says which Kubernetes
    Secret key fills each such variable (locally it comes from your environment).
    """

    kind: Literal["mcp"]
    transport: Literal["stdio", "http"]
    command: str | None = Field(default=None, min_length=1, description="stdio: the program")
    args: tuple[str, ...] = ()
    env: dict[str, str] = Field(default_factory=dict, description="stdio: plain variables")
    env_from: dict[str, str] = Field(
        default_factory=dict, description="stdio: variable -> name of a gateway variable"
    )
    url: str | None = Field(default=None, pattern=r"^https?://")
    headers: dict[str, str] = Field(default_factory=dict, description="http: plain headers")
    headers_from: dict[str, str] = Field(
        default_factory=dict, description="http: header -> name of a gateway variable"
    )
    timeout_s: float = Field(default=30, gt=0, le=600)
    secrets: dict[str, SecretRef] = Field(
        default_factory=dict, description="gateway variable -> Secret key (Kubernetes)"
    )
    reconcile: dict[str, ReconcileHookSpec] = Field(
        default_factory=dict, description="tool -> its reconcile hook (docs/tools.md)"
    )

    @model_validator(mode="after")
    def _transport_fields(self) -> Self:
        if self.transport == "stdio" and not self.command:
            raise ValueError("transport stdio needs 'command' (and optional 'args')")
        if self.transport == "http" and not self.url:
            raise ValueError("transport http needs 'url' (http:// or https://)")
        named = {*self.env_from.values(), *self.headers_from.values()}
        for variable in [*named, *self.secrets]:
            if not _ENV_NAME.match(variable):
                raise ValueError(f"{variable!r} is not an environment variable name")
        for variable in self.secrets:
            if variable not in named:
                raise ValueError(
                    f"secrets.{variable}: no envFrom/headersFrom entry names {variable} — "
                    "name it there or remove the secret"
                )
        return self


ToolSpec = Annotated[HttpToolSpec | PythonToolSpec | McpToolSpec, Field(discriminator="kind")]


class AgentSpec(FleetPart):
    """One agent of the fleet: its code, identity, capabilities and instances."""

    name: str = Field(max_length=40, pattern=_DNS_LABEL)
    module: str = Field(pattern=_MODULE_ATTR, description="MODULE:ATTR of a longboat Agent")
    version: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._+-]+$")
    replicas: int = Field(default=1, ge=1, le=1000, description="instances; at most partitions")
    durability: Literal["sync", "async", "exit"] | None = None
    capabilities: tuple[str, ...] = ()
    owner: str | None = Field(default=None, min_length=1, max_length=200)
    risk_tier: Literal["low", "medium", "high"] | None = None
    status: Literal["active", "canary"] = Field(
        default="active",
        description="canary: a second version beside this name's active entry (one at most)",
    )
    resources: Resources = Resources()
    env: dict[str, str] = Field(default_factory=dict)
    llm_route: LlmRoute | None = Field(
        default=None, description="this agent's ctx.llm route; null = the fleet's llm.route"
    )

    def instance(self, index: int) -> str:
        """The name of this entry's ``index``-th process: ``triage-0``, or ``triage-canary-0``.

        A canary's instances carry ``-canary`` like the chart's pods, so the two versions' static
        group member ids never collide.
        """
        return f"{self.stem}-{index}"

    @property
    def stem(self) -> str:
        """The name of this entry's processes and objects: the agent's, plus ``-canary``."""
        return f"{self.name}-canary" if self.status == "canary" else self.name

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_text(cls, value: object) -> object:
        if isinstance(value, int | float) and not isinstance(value, bool):
            # YAML reads 1.10 as the number 1.1: refuse rather than guess the version.
            raise ValueError(f'version {value!r} is a number — quote it: version: "{value}"')
        return value

    @field_validator("capabilities")
    @classmethod
    def _capabilities(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            kind, _, name = text.partition(":")
            if kind not in CAPABILITY_KINDS or not name:
                raise ValueError(
                    f"capability {text!r} must be KIND:NAME with KIND one of "
                    + ", ".join(CAPABILITY_KINDS)
                )
        if len(set(value)) != len(value):
            raise ValueError("a capability is listed twice — list each once")
        return value

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        return plain_env(value)


def plain_env(value: dict[str, str]) -> dict[str, str]:
    """An ``env`` mapping of plain variables, refused if it names one the fleet sets itself."""
    for key in value:
        if not _ENV_NAME.match(key):
            raise ValueError(f"env {key!r} is not a variable name — use letters, digits, _")
        if key.startswith(RESERVED_ENV_PREFIXES):
            raise ValueError(
                f"env {key} is set by the fleet file itself — set the matching fleet field"
            )
    return value


class ImageConfig(FleetPart):
    """The container image every pod runs."""

    repository: str = Field(default="longboat", min_length=1)
    tag: str = Field(default="0.1.0", min_length=1)
    pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"


class ExistingSecret(FleetPart):
    """Use a Secret that exists already instead of one the chart creates."""

    existing_secret: str | None = None


class ServiceAccountConfig(FleetPart):
    """Annotations for the components' service accounts (e.g. workload identity)."""

    annotations: dict[str, str] = Field(default_factory=dict)


class NetworkPolicyConfig(FleetPart):
    """NetworkPolicies: agents reach Kafka, the gateway and their LLM, nothing else."""

    enabled: bool = True
    kafka_cidrs: tuple[str, ...] = ()
    llm_cidrs: tuple[str, ...] = ()


class Toggle(FleetPart):
    """An optional feature, on or off."""

    enabled: bool = True


class ServiceMonitorConfig(FleetPart):
    """A Prometheus Operator ServiceMonitor."""

    enabled: bool = False
    interval: str = Field(default="30s", pattern=r"^[0-9]+(s|m|h)$")


class GrafanaDashboardConfig(FleetPart):
    """A ConfigMap with the fleet's Grafana dashboard, labelled for Grafana's sidecar."""

    enabled: bool = False


class KedaConfig(FleetPart):
    """KEDA ScaledObjects on consumer lag."""

    enabled: bool = False
    lag_threshold: int = Field(default=100, ge=1)
    max_replicas: int | None = Field(default=None, ge=1)


class KubernetesConfig(FleetPart):
    """Kubernetes-only settings (``fleet up`` ignores them)."""

    image: ImageConfig = ImageConfig()
    operator_token: ExistingSecret = ExistingSecret()
    agent_keys: ExistingSecret = ExistingSecret()
    service_account: ServiceAccountConfig = ServiceAccountConfig()
    network_policy: NetworkPolicyConfig = NetworkPolicyConfig()
    pod_disruption_budget: Toggle = Toggle()
    service_monitor: ServiceMonitorConfig = ServiceMonitorConfig()
    grafana_dashboard: GrafanaDashboardConfig = GrafanaDashboardConfig()
    keda: KedaConfig = KedaConfig()
    pod_security: Literal["restricted", "baseline"] = "restricted"


class Fleet(FleetPart):
    """A whole fleet: ``longboat fleet up -f FILE`` runs it, ``helm install -f FILE`` deploys it."""

    name: str = Field(max_length=20, pattern=_DNS_LABEL, description="prefixes object names")
    root: str | None = Field(default=None, description="where paths resolve; default: file's dir")
    kafka: FleetKafka = FleetKafka()
    topics: dict[str, Annotated[int, Field(ge=1, le=10_000)]] = Field(default_factory=dict)
    registry: RegistryConfig = RegistryConfig()
    gateway: GatewayConfig = GatewayConfig()
    coordinator: CoordinatorConfig = CoordinatorConfig()
    llm: LlmConfig = LlmConfig()
    policies: str | None = Field(default=None, description="folder published to lb.policies")
    workflows: tuple[str, ...] = ()
    tools: dict[str, ToolSpec] = Field(default_factory=dict)
    agents: tuple[AgentSpec, ...] = ()
    kubernetes: KubernetesConfig = KubernetesConfig()
    env: dict[str, str] = Field(
        default_factory=dict,
        description="plain variables of every process (e.g. the OTEL_* tracing variables)",
    )

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        return plain_env(value)

    @field_validator("topics")
    @classmethod
    def _topic_names(cls, value: dict[str, int]) -> dict[str, int]:
        for name in value:
            if not _TOPIC.match(name):
                raise ValueError(f"topic {name!r}: use 1-249 letters, digits, '.', '_' or '-'")
        return value

    @field_validator("tools")
    @classmethod
    def _tool_names(cls, value: dict[str, object]) -> dict[str, object]:
        for name in value:
            if not _TOOL_NAME.match(name):
                raise ValueError(f"tool {name!r}: use lower-case letters, digits, '-' or '_'")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = [*self._agent_problems(), *self._port_problems()]
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _agent_problems(self) -> list[str]:
        problems = track_problems(self.agents, partitions=self.kafka.partitions)
        for i, agent in enumerate(self.agents):
            where = f"agents.{i}"
            if agent.name.startswith("coordinator"):
                problems.append(f"{where}.name: coordinator* names are the coordinator's own")
            # One place per variable: Kubernetes would keep both entries and warn.
            for key in sorted(agent.env.keys() & self.env.keys()):
                problems.append(f"{where}.env.{key}: also in the fleet's env — set it once")
            if agent.replicas > self.kafka.partitions:
                problems.append(
                    f"{where}.replicas: {agent.replicas} instances but topics have "
                    f"{self.kafka.partitions} partitions (extra ones would idle) — lower "
                    "replicas or raise kafka.partitions"
                )
            for capability in agent.capabilities:
                kind, _, tool = capability.partition(":")
                if kind == "tool" and not self._declares_tool(tool):
                    problems.append(
                        f"{where}.capabilities: {capability} names no tool of this fleet — "
                        f"declare tools.{tool} or remove it"
                    )
        return problems

    def _declares_tool(self, tool: str) -> bool:
        """``name`` of a declared tool, or ``server.tool`` of a declared MCP server."""
        server, dot, _ = tool.partition(".")
        spec = self.tools.get(server)
        return spec is not None and (not dot or spec.kind == "mcp")

    def _port_problems(self) -> list[str]:
        ports = {
            "registry.port": self.registry.port,
            "gateway.port": self.gateway.port,
            "gateway.opa.port": self.gateway.opa.port,
            "coordinator.port": self.coordinator.port,
        }
        problems = []
        by_port: dict[int, str] = {}
        for where, port in ports.items():
            if port in by_port:
                problems.append(
                    f"{where}: port {port} is also {by_port[port]} — give each its own port"
                )
            by_port.setdefault(port, where)
        return problems
