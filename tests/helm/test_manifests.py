"""Properties of the rendered manifests: identities, security, rollouts and network reach."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml

from longboat.errors import ConfigError
from longboat.fleet import parse_fleet
from tests.helm.conftest import FLEETS, Manifest, Render, load_fleet

pytestmark = pytest.mark.integration

WORKLOADS = {"Deployment", "StatefulSet", "Job"}


def _by_kind(manifests: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def _pod_templates(manifests: list[Manifest]) -> dict[str, Any]:
    """Long-running workloads' pod templates by object name (the setup Job is a one-off hook)."""
    return {
        f"{m['kind']}/{m['metadata']['name']}": m["spec"]["template"]
        for m in manifests
        if m["kind"] in ("Deployment", "StatefulSet")
    }


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def _agent_container(manifests: list[Manifest], name: str) -> dict[str, Any]:
    statefulset = _by_kind(manifests, "StatefulSet")[name]
    container: dict[str, Any] = statefulset["spec"]["template"]["spec"]["containers"][0]
    return container


def test_each_agent_has_its_own_identity_secret(render: Render) -> None:
    """Every agent pod mounts a Secret holding only its own Ed25519 key."""
    manifests = render(FLEETS / "full.yaml")
    secrets = _by_kind(manifests, "Secret")
    seen = set()
    for agent in load_fleet("full")["agents"]:
        suffix = "-canary" if agent.get("status") == "canary" else ""
        name = f"claims-agent-{agent['name']}{suffix}"
        pod = _by_kind(manifests, "StatefulSet")[name]["spec"]["template"]["spec"]
        volume = next(v for v in pod["volumes"] if v["name"] == "agent-key")
        secret = secrets[volume["secret"]["secretName"]]
        assert list(secret["data"]) == ["key.pem"]
        assert [i["key"] for i in volume["secret"]["items"]] == ["key.pem"]
        seen.add(secret["data"]["key.pem"])
        env = _env(pod["containers"][0])
        assert env["LONGBOAT_AGENT__KEY_FILE"] == "/etc/longboat/agent-key/key.pem"
        assert env["LONGBOAT_AGENT__INSTANCE"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert len(seen) == len(load_fleet("full")["agents"]), "two agents share a key"


def test_a_canary_runs_beside_the_active_version_in_the_same_group(render: Render) -> None:
    """A canary entry gets its own StatefulSet, pods and key, and runs the same agent (group)."""
    manifests = render(FLEETS / "canary.yaml")
    statefulsets = _by_kind(manifests, "StatefulSet")
    active = statefulsets["canary-agent-moderator"]["spec"]
    canary = statefulsets["canary-agent-moderator-canary"]["spec"]
    # Disjoint selectors: neither StatefulSet adopts the other's pods.
    assert active["selector"]["matchLabels"]["longboat.dev/track"] == "active"
    assert canary["selector"]["matchLabels"]["longboat.dev/track"] == "canary"
    assert active["template"]["metadata"]["labels"]["app.kubernetes.io/version"] == "1.0"
    assert canary["template"]["metadata"]["labels"]["app.kubernetes.io/version"] == "1.1"
    # The same agent module, so the same consumer group: the canary takes a share of partitions.
    args = [s["template"]["spec"]["containers"][0]["args"] for s in (active, canary)]
    assert args[0] == args[1]
    assert set(_by_kind(manifests, "Secret")) >= {
        "canary-agent-moderator-key",
        "canary-agent-moderator-canary-key",
    }
    job = _by_kind(manifests, "ConfigMap")["canary-setup"]["data"]["agents.json"]
    plan = {(a["name"], a["version"]): a["status"] for a in json.loads(job)}
    assert plan[("moderator", "1.0")] == "active"
    assert plan[("moderator", "1.1")] == "canary"


_ACTIVE = {"name": "a", "module": "m:agent", "version": "1"}
_CANARY = {**_ACTIVE, "version": "2", "status": "canary"}


@pytest.mark.parametrize(
    ("agents", "message"),
    [
        ([_ACTIVE, _CANARY, {**_CANARY, "version": "3"}], "remove one"),
        ([_ACTIVE, {**_ACTIVE, "version": "2"}], "only as status: canary"),
        ([_ACTIVE, {**_CANARY, "version": "1"}], "give the canary the new version"),
        ([_CANARY], "has no active entry"),
        ([_ACTIVE, _CANARY, {**_ACTIVE, "name": "a-canary"}], "rename that agent"),
        ([{**_ACTIVE, "replicas": 2}, {**_CANARY, "replicas": 2}], "raise kafka.partitions"),
    ],
    ids=[
        "two-canaries",
        "two-actives",
        "same-version",
        "no-active",
        "name-collision",
        "too-many-members",
    ],
)
def test_the_chart_refuses_what_the_fleet_model_refuses(
    render: Render, agents: list[dict[str, Any]], message: str
) -> None:
    """Each canary rule of `fleet validate` holds in the chart too, with the same fix."""
    fleet = {"name": "dup", "kafka": {"bootstrapServers": "k:9092"}, "agents": agents}
    with pytest.raises(AssertionError, match=message):
        render(fleet)
    with pytest.raises(ConfigError, match=message):
        parse_fleet(yaml.safe_dump(fleet), source="fleet.yaml")


def test_existing_secrets_are_referenced_not_created(render: Render) -> None:
    """With existingSecret set the chart creates no Secret and each agent mounts its own item."""
    manifests = render(FLEETS / "existing-secrets.yaml")
    assert _by_kind(manifests, "Secret") == {}
    for agent in ("triage", "notifier"):
        pod = _by_kind(manifests, "StatefulSet")[f"ops-agent-{agent}"]["spec"]["template"]["spec"]
        volume = next(v for v in pod["volumes"] if v["name"] == "agent-key")
        assert volume["secret"]["secretName"] == "ops-agent-keys"
        assert volume["secret"]["items"] == [{"key": f"{agent}.pem", "path": "key.pem"}]
    registry = _by_kind(manifests, "StatefulSet")["ops-registry"]["spec"]["template"]["spec"]
    token = next(v for v in registry["volumes"] if v["name"] == "operator-token")
    assert token["secret"]["secretName"] == "ops-operator-token"


@pytest.mark.parametrize("fleet", sorted(FLEETS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_container_runs_restricted(render: Render, fleet: Any) -> None:
    """Every pod and container meets the restricted Pod Security profile, with a writable /tmp."""
    for manifest in render(fleet):
        if manifest["kind"] not in WORKLOADS:
            continue
        pod = manifest["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        assert any(v["name"] == "tmp" and "emptyDir" in v for v in pod["volumes"])
        for container in pod["containers"] + pod.get("initContainers", []):
            context = container["securityContext"]
            where = f"{manifest['metadata']['name']}/{container['name']}"
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert context["runAsNonRoot"] is True, where


def test_long_running_containers_have_probes(render: Render) -> None:
    """Every long-running container has liveness and readiness probes on separate endpoints."""
    for name, template in _pod_templates(render(FLEETS / "full.yaml")).items():
        for container in template["spec"]["containers"]:
            live = container["livenessProbe"]["httpGet"]["path"]
            ready = container["readinessProbe"]["httpGet"]["path"]
            if container["name"] == "opa":
                assert live == ready == "/health", name
            else:
                assert (live, ready) == ("/livez", "/readyz"), name


def test_a_policy_change_leaves_every_pod_template_unchanged(render: Render) -> None:
    """Changing the policies folder changes no Deployment/StatefulSet pod template."""
    fleet = load_fleet("full")
    changed = copy.deepcopy(fleet)
    changed["policies"] = "policies-v2"
    before, after = render(fleet), render(changed)
    assert _pod_templates(before) == _pod_templates(after)
    # ... while the setup Job does publish the new folder.
    job = _by_kind(after, "Job")["claims-setup"]["spec"]["template"]["spec"]["containers"][0]
    assert "/app/policies-v2" in job["args"][0]


def test_one_agents_version_change_rolls_only_that_agent(render: Render) -> None:
    """Bumping one agent's version changes that agent's pod template and no other."""
    fleet = load_fleet("full")
    changed = copy.deepcopy(fleet)
    changed["agents"][0]["version"] = "1.1"
    before, after = _pod_templates(render(fleet)), _pod_templates(render(changed))
    differing = {name for name in before if before[name] != after[name]}
    assert differing == {"StatefulSet/claims-agent-triage"}


def test_a_tool_change_rolls_only_the_gateway(render: Render) -> None:
    """Adding a tool changes the gateway's pod template (checksum/config) and nothing else."""
    fleet = load_fleet("full")
    changed = copy.deepcopy(fleet)
    changed["tools"]["fraud"] = {"kind": "python", "callable": "examples.claims.specialists:fraud"}
    before, after = _pod_templates(render(fleet)), _pod_templates(render(changed))
    differing = {name for name in before if before[name] != after[name]}
    assert differing == {"Deployment/claims-gateway"}


def test_mcp_servers_reach_the_gateways_tools_file_and_its_secrets(render: Render) -> None:
    """kind: mcp lands in the tools ConfigMap as the gateway's spec; its secrets fill the gateway's
    variables from Secret keys; an HTTP server's port is open in the gateway's egress."""
    from longboat.gateway._tools import ToolsFile

    fleet = load_fleet("full")
    fleet["tools"]["crm"] = {
        "kind": "mcp",
        "transport": "http",
        "url": "https://crm.internal:9443/mcp",
        "headersFrom": {"Authorization": "GW_CRM_AUTH"},
        "secrets": {"GW_CRM_AUTH": {"name": "crm-mcp", "key": "authorization"}},
    }
    fleet["tools"]["files"] = {
        "kind": "mcp",
        "transport": "stdio",
        "command": "python",
        "args": ["-m", "files_server"],
        "timeoutS": 5,
        "reconcile": {"pay": {"tool": "lookup_payment", "argument": "key"}},
    }
    manifests = render(fleet)
    configmap = _by_kind(manifests, "ConfigMap")["claims-gateway-tools"]
    tools = ToolsFile.model_validate(json.loads(configmap["data"]["tools.json"]))
    assert tools.tools["crm"].model_dump(exclude_defaults=True) == {
        "kind": "mcp",
        "transport": "http",
        "url": "https://crm.internal:9443/mcp",
        "headers_from": {"Authorization": "GW_CRM_AUTH"},
    }
    assert tools.tools["files"].model_dump(exclude_defaults=True) == {
        "kind": "mcp",
        "transport": "stdio",
        "command": "python",
        "args": ["-m", "files_server"],
        "timeout_s": 5,
        "reconcile": {"pay": {"tool": "lookup_payment", "argument": "key"}},
    }
    gateway = _pod_templates(manifests)["Deployment/claims-gateway"]["spec"]["containers"][0]
    assert _env(gateway)["GW_CRM_AUTH"] == {
        "secretKeyRef": {"name": "crm-mcp", "key": "authorization"}
    }
    ports = [p["port"] for rule in _egress(manifests, "gateway") for p in rule["ports"]]
    assert 9443 in ports


def _egress(manifests: list[Manifest], component: str, fleet: str = "claims") -> list[Any]:
    policy = _by_kind(manifests, "NetworkPolicy")[f"{fleet}-{component}-netpol"]
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    rules: list[Any] = policy["spec"]["egress"]
    return rules


def test_agents_reach_only_kafka_the_gateway_the_registry_and_their_llm(render: Render) -> None:
    """The agents' NetworkPolicy allows DNS, Kafka, the gateway, the registry and the LLM only."""
    manifests = render(FLEETS / "full.yaml")
    rules = _egress(manifests, "agent")
    reach = []
    for rule in rules:
        ports = sorted(p["port"] for p in rule["ports"])
        targets = rule.get("to")
        if targets is None:
            # DNS may live anywhere (kube-dns, NodeLocal DNSCache): port 53 only, to any address.
            assert ports == [53, 53], f"egress to any address on {ports}"
            reach.append(("dns", ports))
            continue
        for target in targets:
            if "ipBlock" in target:
                reach.append((target["ipBlock"]["cidr"], ports))
            elif "podSelector" in target:
                component = target["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
                reach.append((component, ports))
            else:
                raise AssertionError(f"unexpected egress target {target}")
    assert sorted(map(str, reach)) == sorted(
        map(
            str,
            [
                ("dns", [53, 53]),
                ("10.20.0.0/16", [9092]),
                ("registry", [8460]),
                ("gateway", [8480]),
                ("10.30.0.0/24", [8443]),
            ],
        )
    )


def test_agents_route_the_llm_through_the_gateway_which_holds_the_key(render: Render) -> None:
    """LONGBOAT_LLM__ROUTE=gateway unless llmRoute: direct; the key goes to the gateway and to
    direct agents only; the gateway may reach the LLM, and agents only when one calls it."""
    manifests = render(FLEETS / "full.yaml")
    triage = _env(_agent_container(manifests, "claims-agent-triage"))
    moderator = _env(_agent_container(manifests, "claims-agent-moderator"))
    gateway = _env(_pod_templates(manifests)["Deployment/claims-gateway"]["spec"]["containers"][0])
    secret = {"secretKeyRef": {"name": "llm-api", "key": "api-key"}}
    assert (triage["LONGBOAT_LLM__ROUTE"], moderator["LONGBOAT_LLM__ROUTE"]) == (
        "gateway",
        "direct",
    )
    assert "LONGBOAT_LLM__API_KEY" not in triage
    assert moderator["LONGBOAT_LLM__API_KEY"] == secret
    assert gateway["LONGBOAT_GATEWAY__LLM__API_KEY"] == secret
    assert gateway["LONGBOAT_GATEWAY__LLM__PROVIDER"] == "openai"
    assert gateway["LONGBOAT_GATEWAY__LLM__BASE_URL"] == "https://llm.internal:8443/v1"
    gateway_ports = [p["port"] for rule in _egress(manifests, "gateway") for p in rule["ports"]]
    assert 8443 in gateway_ports
    assert 9444 in gateway_ports  # the embeddings endpoint of semantic search
    assert gateway["LONGBOAT_GATEWAY__EMBEDDINGS__API_KEY"] == {
        "secretKeyRef": {"name": "embed-api", "key": "api-key"}
    }
    all_gateway = copy.deepcopy(load_fleet("full"))
    for agent in all_gateway["agents"]:
        agent.pop("llmRoute", None)
    manifests = render(all_gateway)
    agent_ports = [p["port"] for rule in _egress(manifests, "agent") for p in rule["ports"]]
    assert 8443 not in agent_ports


def test_the_registry_and_coordinator_reach_only_dns_and_kafka(render: Render) -> None:
    """Components that talk to nothing but Kafka get egress to DNS and the Kafka ports only."""
    manifests = render(FLEETS / "full.yaml")
    for component in ("registry", "coordinator"):
        ports = sorted(p["port"] for rule in _egress(manifests, component) for p in rule["ports"])
        assert ports == [53, 53, 9092], component


def test_sasl_and_tls_settings_reach_every_process(render: Render) -> None:
    """SASL credentials come from the Secret reference and the CA is mounted where settings say."""
    manifests = render(FLEETS / "sasl-tls.yaml")
    for name, template in _pod_templates(manifests).items():
        container = template["spec"]["containers"][0]
        env = _env(container)
        assert env["LONGBOAT_KAFKA__SECURITY_PROTOCOL"] == "SASL_SSL", name
        assert env["LONGBOAT_KAFKA__SASL_MECHANISM"] == "SCRAM-SHA-512", name
        assert env["LONGBOAT_KAFKA__SASL_PASSWORD"] == {
            "secretKeyRef": {"name": "kafka-credentials", "key": "password"}
        }, name
        assert env["LONGBOAT_KAFKA__SSL_CAFILE"] == "/etc/longboat/kafka-ca/ca.crt", name
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert mounts["kafka-ca"] == "/etc/longboat/kafka-ca", name


def test_keda_scales_each_agent_on_its_group_lag_up_to_the_partitions(render: Render) -> None:
    """With KEDA each agent gets a ScaledObject on its consumer group, capped by partitions."""
    manifests = render(FLEETS / "sasl-tls.yaml")
    scaled = _by_kind(manifests, "ScaledObject")["secure-agent-triage"]["spec"]
    assert scaled["scaleTargetRef"]["kind"] == "StatefulSet"
    assert scaled["maxReplicaCount"] == 6
    trigger = scaled["triggers"][0]
    assert trigger["metadata"]["consumerGroup"] == "prod.agent.triage"
    assert trigger["authenticationRef"]["name"] == "secure-agent-triage"
    # KEDA owns the replica count; the StatefulSet must not fight it on every upgrade.
    assert "replicas" not in _by_kind(manifests, "StatefulSet")["secure-agent-triage"]["spec"]


def test_the_tools_file_is_the_gateways_format(render: Render) -> None:
    """The tools ConfigMap holds the gateway's tools file (snake_case keys) and parses as one."""
    from longboat.gateway._tools import ToolsFile

    configmap = _by_kind(render(FLEETS / "full.yaml"), "ConfigMap")["claims-gateway-tools"]
    tools = ToolsFile.model_validate(json.loads(configmap["data"]["tools.json"]))
    assert tools.tools["weather"].model_dump() == {
        "kind": "http",
        "url": "http://weather.internal/v1/lookup",
        "timeout_s": 5,
    }
