"""Fleets: one YAML file describing a whole fleet, run locally by ``longboat fleet up``.

:class:`Fleet` is the file's model (its camelCase keys are the Helm chart's values);
:func:`load_fleet` reads one with errors that name the file, field and fix;
:func:`process_environment` maps a fleet onto each process's ``LONGBOAT_*`` settings (the chart
renders the same variables); :class:`FleetSupervisor` starts, watches and stops the processes.
See docs/fleet.md.
"""

from longboat.fleet._control import (
    StatusRow,
    detach_supervisor,
    fleet_status,
    follow_logs,
    log_files,
    stop_fleet,
    tail_lines,
)
from longboat.fleet._environment import (
    PLATFORM_VARIABLES,
    ProcessAddresses,
    process_environment,
    tools_file_content,
)
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
    McpToolSpec,
    OpaConfig,
    PythonToolSpec,
    ReconcileHookSpec,
    RegistryConfig,
    Resources,
    SecretRef,
)
from longboat.fleet._state import (
    ChildState,
    FleetPaths,
    FleetState,
    read_state,
    supervisor_alive,
)
from longboat.fleet._supervisor import FleetSupervisor

__all__ = [
    "CAPABILITY_KINDS",
    "PLATFORM_VARIABLES",
    "AgentSpec",
    "ChildState",
    "CoordinatorConfig",
    "Fleet",
    "FleetKafka",
    "FleetPaths",
    "FleetState",
    "FleetSupervisor",
    "GatewayConfig",
    "HttpToolSpec",
    "KubernetesConfig",
    "LlmConfig",
    "McpToolSpec",
    "OpaConfig",
    "ProcessAddresses",
    "PythonToolSpec",
    "ReconcileHookSpec",
    "RegistryConfig",
    "Resources",
    "SecretRef",
    "StatusRow",
    "detach_supervisor",
    "fleet_root",
    "fleet_schema",
    "fleet_status",
    "follow_logs",
    "load_fleet",
    "log_files",
    "parse_fleet",
    "process_environment",
    "read_state",
    "stop_fleet",
    "supervisor_alive",
    "tail_lines",
    "tools_file_content",
]
