"""Fleets: one YAML file describing a whole fleet, run locally by ``longboat fleet up``.

:class:`Fleet` is the file's model (its camelCase keys are the Helm chart's values);
:func:`load_fleet` reads one with errors that name the file, field and fix;
:func:`process_environment` maps a fleet onto each process's ``LONGBOAT_*`` settings (the chart
renders the same variables); :class:`FleetSupervisor` starts, watches and stops the processes.
See docs/fleet.md.
"""

from longboat.fleet._loading import fleet_root, fleet_schema, load_fleet, parse_fleet
from longboat.fleet._model import (
    CAPABILITY_KINDS,
    AgentSpec,
    CoordinatorConfig,
    Fleet,
    FleetKafka,
    GatewayConfig,
    HttpToolSpec,
    KubernetesConfig,
    LlmConfig,
    OpaConfig,
    PythonToolSpec,
    RegistryConfig,
    Resources,
    SecretRef,
)

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
    "OpaConfig",
    "PythonToolSpec",
    "RegistryConfig",
    "Resources",
    "SecretRef",
    "fleet_root",
    "fleet_schema",
    "load_fleet",
    "parse_fleet",
]
