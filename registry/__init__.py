"""The agent registry: Ed25519 identities, versions, capabilities, status and heartbeats.

The registry service is the only writer of the compacted ``lb.registry`` topic; any process
holds a :class:`RegistryView` of it; agents prove who they are with short-lived EdDSA JWTs
(:class:`TokenIssuer`) that a :class:`TokenVerifier` checks. See docs/identity.md.
"""

from longboat.registry._client import RegistryClient, RegistryRefused, RegistryUnavailable
from longboat.registry._keys import (
    generate_key,
    load_private_key,
    public_key_b64,
    write_private_key,
)
from longboat.registry._model import (
    AGENT_RECORDS,
    AgentKey,
    AgentRecord,
    Capability,
    InstanceCounters,
    InstanceInfo,
    RiskTier,
    Status,
    VersionEntry,
    key_id,
)
from longboat.registry._protocol import (
    AgentList,
    EnrollRequest,
    HeartbeatRequest,
    StatusRequest,
)
from longboat.registry._service import RegistryService
from longboat.registry._settings import RegistryServiceSettings, RegistrySettings
from longboat.registry._store import RegistryStore, UnknownAgent
from longboat.registry._tokens import (
    IdentityRefused,
    RefusalReason,
    TokenIssuer,
    TokenVerifier,
    VerifiedIdentity,
)
from longboat.registry._view import RegistryView

__all__ = [
    "AGENT_RECORDS",
    "AgentKey",
    "AgentList",
    "AgentRecord",
    "Capability",
    "EnrollRequest",
    "HeartbeatRequest",
    "IdentityRefused",
    "InstanceCounters",
    "InstanceInfo",
    "RefusalReason",
    "RegistryClient",
    "RegistryRefused",
    "RegistryService",
    "RegistryServiceSettings",
    "RegistrySettings",
    "RegistryStore",
    "RegistryUnavailable",
    "RegistryView",
    "RiskTier",
    "Status",
    "StatusRequest",
    "TokenIssuer",
    "TokenVerifier",
    "UnknownAgent",
    "VerifiedIdentity",
    "VersionEntry",
    "generate_key",
    "key_id",
    "load_private_key",
    "public_key_b64",
    "write_private_key",
]
