"""The agent registry: Ed25519 identities, versions, capabilities, status and heartbeats.

The registry service is the only writer of the compacted ``lb.registry`` topic; any process
holds a :class:`RegistryView` of it; agents prove who they are with short-lived EdDSA JWTs
(:class:`TokenIssuer`) that a :class:`TokenVerifier` checks. See docs/identity.md.

The names below are imported on first use (module ``__getattr__``): an agent that needs only
:class:`InstanceCounters` does not import the JWT and key machinery.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Where each public name lives; ``__all__`` below is the pinned list of the same names.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "longboat.registry._client": ("RegistryClient", "RegistryRefused", "RegistryUnavailable"),
    "longboat.registry._keys": (
        "generate_key",
        "load_private_key",
        "public_key_b64",
        "write_private_key",
    ),
    "longboat.registry._model": (
        "AGENT_RECORDS",
        "AgentKey",
        "AgentRecord",
        "Capability",
        "InstanceCounters",
        "InstanceInfo",
        "RiskTier",
        "Status",
        "VersionEntry",
        "key_id",
    ),
    "longboat.registry._protocol": (
        "AgentList",
        "EnrollRequest",
        "HeartbeatRequest",
        "StatusRequest",
    ),
    "longboat.registry._service": ("RegistryService",),
    "longboat.registry._settings": ("RegistryServiceSettings", "RegistrySettings"),
    "longboat.registry._store": ("RegistryStore", "UnknownAgent"),
    "longboat.registry._tokens": (
        "IdentityRefused",
        "RefusalReason",
        "TokenIssuer",
        "TokenVerifier",
        "VerifiedIdentity",
    ),
    "longboat.registry._view": ("RegistryView",),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (then the name is a plain attribute)."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'longboat.registry' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULE_OF})


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
