"""What a fleet needs before its agents run: topics, identities and published policies."""

from __future__ import annotations

import secrets
from pathlib import Path

from longboat import KafkaSettings, TopicNames, TopicSpec
from longboat.errors import ConfigError
from longboat.fleet._model import AgentSpec, Fleet
from longboat.gateway import PolicyBundle, check_bundle
from longboat.kafka import Admin
from longboat.registry import (
    Capability,
    RegistryClient,
    generate_key,
    load_private_key,
    public_key_b64,
    write_private_key,
)

__all__ = [
    "POLICY_BUNDLE",
    "check_policies",
    "enrol_agents",
    "ensure_fleet_topics",
    "fleet_topics",
    "operator_token",
]

POLICY_BUNDLE = "longboat"


def fleet_topics(fleet: Fleet) -> list[TopicSpec]:
    """Every topic the fleet needs: system, coordinator, each agent's, and the file's own."""
    names = TopicNames(fleet.kafka.topic_prefix)
    n = fleet.kafka.partitions
    specs = names.system_topics(partitions=n) + names.coordinator_topics(partitions=n)
    for agent in fleet.agents:
        specs += names.agent_topics(agent.name, partitions=n)
    specs += [TopicSpec(t, p, {"cleanup.policy": "delete"}) for t, p in fleet.topics.items()]
    unique: dict[str, TopicSpec] = {}
    for spec in specs:
        unique.setdefault(spec.name, spec)
    return list(unique.values())


async def ensure_fleet_topics(fleet: Fleet, kafka: KafkaSettings) -> int:
    """Create the fleet's topics that do not exist yet; returns how many were created."""
    async with Admin(kafka) as admin:
        outcomes = await admin.ensure_topics(
            fleet_topics(fleet), replication_factor=fleet.kafka.replication_factor
        )
    return sum(1 for outcome in outcomes.values() if outcome == "created")


def operator_token(path: Path) -> str:
    """The fleet's operator token: read, or generated once into ``path`` (mode 0600)."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(32)
    fd = path.open("x")  # never overwrite a token the registry already knows
    with fd:
        path.chmod(0o600)
        fd.write(token)
    return token


def agent_key_file(keys: Path, agent: AgentSpec) -> Path:
    """Where the private key of one agent version lives (reused by the next ``up``)."""
    return keys / f"{agent.name}-{agent.version}.key"


async def enrol_agents(
    fleet: Fleet, *, registry_url: str, token: str, keys: Path
) -> dict[str, Path]:
    """Enrol every agent version with its own key (kept, so a second ``up`` re-uses it).

    Each version gets its entry's status (``active`` or ``canary``) unless it was revoked, so
    promoting a canary (its version now in the active entry) makes that version active.

    Returns:
        Each entry's private key file, by :attr:`AgentSpec.stem` (``triage``, ``triage-canary``).
    """
    files: dict[str, Path] = {}
    async with RegistryClient(registry_url, operator_token=token) as registry:
        for agent in fleet.agents:
            path = agent_key_file(keys, agent)
            private = load_private_key(path) if path.exists() else generate_key()
            if not path.exists():
                write_private_key(private, path)
            record = await registry.enroll(
                agent.name,
                version=agent.version,
                public_key=public_key_b64(private),
                capabilities=[Capability.parse(c) for c in agent.capabilities],
                owner=agent.owner,
                risk_tier=agent.risk_tier,
            )
            # An operator's revocation outlives the file: `up` never re-activates that version.
            if record.versions[agent.version].status not in (agent.status, "revoked"):
                await registry.set_status(agent.name, agent.status, version=agent.version)
            files[agent.stem] = path
    return files


def check_policies(opa: Path, folder: Path) -> PolicyBundle:
    """``opa check --strict`` on the fleet file's policies folder, read as the fleet's bundle.

    Raises:
        ConfigError: It is not a folder, does not compile or is not in ``opa fmt`` form.
    """
    if not folder.is_dir():
        raise ConfigError(f"policies: {folder} is not a folder — fix the fleet file's policies")
    try:
        # The same checks as `longboat policy publish` (and so the chart's setup Job): a fleet
        # that starts locally must not fail on Kubernetes for a formatting difference.
        return check_bundle(folder, opa=opa, name=POLICY_BUNDLE)
    except ConfigError as e:
        raise ConfigError(f"policies: {e}") from e
