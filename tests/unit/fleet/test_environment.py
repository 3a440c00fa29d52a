"""process_environment: the fleet file → each process's LONGBOAT_* settings, read back by them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from longboat import load_settings_as
from longboat.agents import AgentSettings, Durability
from longboat.coordinator import CoordinatorSettings
from longboat.errors import ConfigError
from longboat.fleet import load_fleet, parse_fleet
from longboat.fleet._environment import (
    PLATFORM_VARIABLES,
    Component,
    ProcessAddresses,
    agent_llm_key,
    gateway_llm_key,
    process_environment,
    tools_file_content,
)
from longboat.gateway import GatewaySettings
from longboat.registry import RegistrySettings

CONTRACT = Path(__file__).resolve().parent / "contract.yaml"
CANARY = Path(__file__).resolve().parents[2] / "helm" / "fleets" / "canary.yaml"


def _addresses(**extra: str | int) -> ProcessAddresses:
    return ProcessAddresses.model_validate(
        {
            "bootstrap_servers": "127.0.0.1:19092",
            "registry_url": "http://127.0.0.1:18460",
            "gateway_url": "http://127.0.0.1:18480",
            "coordinator_url": "http://127.0.0.1:18470",
            "port": 18000,
            **extra,
        }
    )


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No LONGBOAT_* variables of the test runner, and no `dev up` state to fall back on."""
    for key in list(os.environ):
        if key.startswith("LONGBOAT_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("LONGBOAT_DEV_HOME", str(tmp_path / "nohome"))
    return monkeypatch


def _apply(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def test_gateway_settings_read_what_the_fleet_says(clean_env: pytest.MonkeyPatch) -> None:
    """The gateway process's settings hold the file's gateway section and its addresses."""
    fleet = parse_fleet(
        "name: a\ngateway: {opaTimeoutMs: 75, rateLimitPerMinute: 90, decisionLog: false}\n"
        "tools: {pay: {kind: python, callable: m:pay}}\nkafka: {topicPrefix: x.}\n"
    )
    env = process_environment(
        fleet,
        "gateway",
        instance="gateway-0",
        addresses=_addresses(opa_url="http://127.0.0.1:18181", tools_file="/s/tools.json"),
    )
    _apply(clean_env, env)
    settings = load_settings_as(GatewaySettings)
    assert settings.gateway.opa_timeout_ms == 75
    assert settings.gateway.rate_limit_per_minute == 90
    assert settings.gateway.decision_log is False
    assert settings.gateway.port == 18000
    assert settings.gateway.instance == "gateway-0"
    assert settings.gateway.tools_file == Path("/s/tools.json")
    assert settings.opa_url == "http://127.0.0.1:18181"
    assert settings.topic_prefix == "x."
    assert settings.kafka.bootstrap_servers == "127.0.0.1:19092"


def test_the_gateway_gets_the_embeddings_endpoint_of_semantic_search(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """gateway.embeddings reaches the gateway's settings; without a baseUrl, nothing is set."""
    fleet = parse_fleet(
        "name: a\ngateway: {embeddings: {baseUrl: 'http://embed.internal/v1', model: e5,\n"
        "  batchSize: 8, concurrency: 3, includePii: true}}\n"
    )
    env = process_environment(fleet, "gateway", instance="g-0", addresses=_addresses())
    _apply(clean_env, env)
    embeddings = load_settings_as(GatewaySettings).gateway.embeddings
    assert embeddings.base_url == "http://embed.internal/v1"
    assert (embeddings.model, embeddings.batch_size, embeddings.concurrency) == ("e5", 8, 3)
    assert embeddings.include_pii is True
    plain = process_environment(
        parse_fleet("name: a\n"), "gateway", instance="g-0", addresses=_addresses()
    )
    assert not any("EMBEDDINGS" in key for key in plain)
    with pytest.raises(ConfigError, match="baseUrl"):
        parse_fleet("name: a\ngateway: {embeddings: {baseUrl: 'embed.internal'}}\n")


def test_registry_and_coordinator_settings(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Registry: port and operator token file; coordinator: definitions and timer interval."""
    fleet = parse_fleet("name: a\ncoordinator: {timerIntervalS: 0.5}\n")
    token = tmp_path / "token"
    registry_env = process_environment(
        fleet,
        "registry",
        instance="registry-0",
        addresses=_addresses(operator_token_file=str(token)),
    )
    with clean_env.context() as patch:
        _apply(patch, registry_env)
        registry = load_settings_as(RegistrySettings)
    assert registry.registry.operator_token_file == token
    assert registry.registry.port == 18000
    coordinator_env = process_environment(
        fleet, "coordinator", instance="c-0", addresses=_addresses(definitions="/w")
    )
    _apply(clean_env, coordinator_env)
    coordinator = load_settings_as(CoordinatorSettings)
    assert coordinator.coordinator.timer_interval_s == 0.5
    assert coordinator.coordinator.definitions == Path("/w")
    assert coordinator.coordinator.instance == "c-0"


def test_agent_settings_carry_identity_version_durability_and_llm(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """An agent instance gets its name, version, durability, key file, port, LLM and env."""
    fleet = load_fleet(CONTRACT)
    env = process_environment(
        fleet,
        "agent",
        agent="triage",
        instance="triage-1",
        addresses=_addresses(key_file="/k/triage.key"),
    )
    _apply(clean_env, env)
    settings = load_settings_as(AgentSettings)
    assert settings.agent.name == "triage"
    assert settings.agent.version == "1.0"
    assert settings.agent.durability is Durability.SYNC
    assert settings.agent.instance == "triage-1"
    assert settings.agent.key_file == Path("/k/triage.key")
    assert settings.agent.http_port == 18000
    assert settings.llm.model == "longboat-local"
    assert "LONGBOAT_AGENT__DURABILITY" not in process_environment(
        fleet, "agent", agent="moderator", instance="m-0", addresses=_addresses()
    )


def test_agents_call_the_llm_through_the_gateway_unless_told_direct(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """Route gateway by default, direct per agent or fleet; the gateway gets the provider."""
    fleet = parse_fleet(
        "name: a\nllm: {provider: openai, baseUrl: 'https://llm.internal/v1', model: m1}\n"
        "agents: [{name: t, module: a:b, version: '1'},\n"
        "         {name: d, module: a:b, version: '1', llmRoute: direct}]\n"
    )

    def env(component: Component, agent: str | None = None) -> dict[str, str]:
        return process_environment(
            fleet, component, agent=agent, instance="x-0", addresses=_addresses()
        )

    with clean_env.context() as patch:
        _apply(patch, env("agent", "t"))
        assert load_settings_as(AgentSettings).llm.route == "gateway"
    with clean_env.context() as patch:
        _apply(patch, env("agent", "d"))
        assert load_settings_as(AgentSettings).llm.route == "direct"
    _apply(clean_env, env("gateway"))
    llm = load_settings_as(GatewaySettings).gateway.llm
    assert (llm.provider, llm.base_url, llm.model) == ("openai", "https://llm.internal/v1", "m1")
    direct = parse_fleet(
        "name: a\nllm: {route: direct}\nagents: [{name: t, module: a:b, version: '1'}]\n"
    )
    assert (
        process_environment(direct, "agent", agent="t", instance="t-0", addresses=_addresses())[
            "LONGBOAT_LLM__ROUTE"
        ]
        == "direct"
    )


def test_locally_the_api_key_goes_to_the_gateway_and_direct_agents_only() -> None:
    """`fleet up`: LONGBOAT_LLM__API_KEY is the gateway's key; gateway-routed agents lose it."""
    user = {"LONGBOAT_LLM__API_KEY": "k", "PATH": "/bin"}
    assert gateway_llm_key(user)["LONGBOAT_GATEWAY__LLM__API_KEY"] == "k"
    own = {**user, "LONGBOAT_GATEWAY__LLM__API_KEY": "g"}
    assert gateway_llm_key(own)["LONGBOAT_GATEWAY__LLM__API_KEY"] == "g"
    assert agent_llm_key({**user, "LONGBOAT_LLM__ROUTE": "gateway"}) == {
        "PATH": "/bin",
        "LONGBOAT_LLM__ROUTE": "gateway",
    }
    assert agent_llm_key({**user, "LONGBOAT_LLM__ROUTE": "direct"})["LONGBOAT_LLM__API_KEY"] == "k"


def test_a_canary_entry_gets_its_own_version_and_instance(clean_env: pytest.MonkeyPatch) -> None:
    """The canary's process runs its own version as NAME-canary-i; a name alone is the active."""
    fleet = load_fleet(CANARY)
    active, canary = fleet.agents
    env = process_environment(
        fleet, "agent", agent=canary, instance=canary.instance(0), addresses=_addresses()
    )
    _apply(clean_env, env)
    settings = load_settings_as(AgentSettings)
    assert (settings.agent.name, settings.agent.version) == ("moderator", "1.1")
    assert settings.agent.instance == "moderator-canary-0"
    by_name = process_environment(
        fleet, "agent", agent="moderator", instance="moderator-0", addresses=_addresses()
    )
    assert by_name == process_environment(
        fleet, "agent", agent=active, instance="moderator-0", addresses=_addresses()
    )
    assert by_name["LONGBOAT_AGENT__VERSION"] == "1.0"


def test_an_entry_of_another_fleet_is_refused() -> None:
    """An AgentSpec that is not one of the fleet's entries is a mistake, not a lookup."""
    fleet = load_fleet(CANARY)
    stranger = fleet.agents[1].model_copy(update={"version": "9"})
    with pytest.raises(ConfigError, match="no entry moderator 9"):
        process_environment(fleet, "agent", agent=stranger, instance="x", addresses=_addresses())


def test_sasl_settings_without_the_password(clean_env: pytest.MonkeyPatch) -> None:
    """SASL mechanism and user come from the file; the password only from the environment."""
    fleet = parse_fleet(
        "name: a\nkafka: {securityProtocol: SASL_SSL, sasl: {mechanism: SCRAM-SHA-512, "
        "username: u, passwordSecret: {name: s, key: p}}}\n"
    )
    env = process_environment(fleet, "registry", instance="r", addresses=_addresses())
    assert env["LONGBOAT_KAFKA__SASL_USERNAME"] == "u"
    assert not any("PASSWORD" in key for key in env)
    _apply(clean_env, env)
    clean_env.setenv("LONGBOAT_KAFKA__SASL_PASSWORD", "secret")
    settings = load_settings_as(RegistrySettings)
    assert settings.kafka.sasl_mechanism == "SCRAM-SHA-512"


def test_unknown_agent_is_refused() -> None:
    """Asking for an agent the fleet does not have is a ConfigError."""
    fleet = parse_fleet("name: a\n")
    with pytest.raises(ConfigError, match="has no agent 'x'"):
        process_environment(fleet, "agent", agent="x", instance="x-0", addresses=_addresses())


def test_platform_variables_are_the_address_like_ones() -> None:
    """What differs by platform is only addresses, ports, instance names and file paths."""
    fleet = load_fleet(CONTRACT)
    env = process_environment(
        fleet, "agent", agent="triage", instance="t-0", addresses=_addresses(key_file="/k")
    )
    portable = {k: v for k, v in env.items() if k not in PLATFORM_VARIABLES}
    assert portable["LONGBOAT_AGENT__VERSION"] == "1.0"
    assert all("127.0.0.1" not in v and v != "/k" for v in portable.values())


def test_tools_file_is_what_the_gateway_reads(tmp_path: Path) -> None:
    """The generated tools file is the gateway's ToolsFile format (snake_case)."""
    from longboat.gateway._tools import ToolsFile

    fleet = parse_fleet(
        "name: a\ntools: {w: {kind: http, url: 'http://w.internal/x', timeoutS: 5}, "
        "p: {kind: python, callable: 'm.n:f'}}\n"
    )
    parsed = ToolsFile.model_validate(json.loads(tools_file_content(fleet)))
    assert parsed.tools["w"].kind == "http"
    assert parsed.tools["p"].kind == "python"


def test_an_mcp_server_in_the_fleet_becomes_the_gateways_server_spec() -> None:
    """kind: mcp in the fleet file is the gateway's McpServerSpec; its secrets stay out of it."""
    from longboat.gateway._tools import ToolsFile

    fleet = parse_fleet(
        "name: a\n"
        "tools:\n"
        "  files: {kind: mcp, transport: stdio, command: python, args: [-m, files_server],\n"
        "          envFrom: {FILES_TOKEN: GW_FILES_TOKEN}, timeoutS: 5,\n"
        "          reconcile: {pay: {tool: lookup_payment}}}\n"
        "  crm: {kind: mcp, transport: http, url: 'https://crm.internal/mcp',\n"
        "        headersFrom: {Authorization: GW_CRM_AUTH},\n"
        "        secrets: {GW_CRM_AUTH: {name: crm, key: authorization}}}\n"
        "agents: [{name: t, module: a:b, version: '1',\n"
        "          capabilities: [tool:files.read, tool:crm]}]\n"
    )
    content = tools_file_content(fleet)
    parsed = ToolsFile.model_validate(json.loads(content))
    files, crm = parsed.tools["files"], parsed.tools["crm"]
    assert files.kind == crm.kind == "mcp"
    assert files.model_dump(exclude_defaults=True) == {
        "kind": "mcp",
        "transport": "stdio",
        "command": "python",
        "args": ["-m", "files_server"],
        "env_from": {"FILES_TOKEN": "GW_FILES_TOKEN"},
        "timeout_s": 5,
        "reconcile": {"pay": {"tool": "lookup_payment"}},
    }
    assert crm.model_dump(exclude_defaults=True)["headers_from"] == {"Authorization": "GW_CRM_AUTH"}
    assert "secrets" not in content


def test_a_capability_on_a_tool_of_a_non_mcp_tool_is_refused() -> None:
    """tool:pay.x names no tool when pay is not an MCP server."""
    with pytest.raises(ConfigError, match=r"tool:pay\.x names no tool"):
        parse_fleet(
            "name: a\ntools: {pay: {kind: python, callable: 'm:f'}}\n"
            "agents: [{name: t, module: a:b, version: '1', capabilities: [tool:pay.x]}]\n"
        )


def test_the_fleet_env_reaches_every_process() -> None:
    """A fleet-level env (e.g. OTEL_* tracing) is in every process's environment, agents' too."""
    fleet = parse_fleet(
        "name: a\nenv: {OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318'}\n"
        "agents: [{name: t, module: a:b, version: '1', env: {MODE: strict}}]\n",
        source="fleet.yaml",
    )
    for component in ("registry", "gateway", "coordinator", "agent"):
        env = process_environment(
            fleet,
            component,
            instance="x-0",
            addresses=_addresses(),
            agent="t" if component == "agent" else None,
        )
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://collector:4318", component
        assert ("MODE" in env) is (component == "agent")
