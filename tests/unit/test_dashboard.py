"""The Grafana dashboard shipped with the chart queries only metrics the components expose."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from longboat.agents._metrics import AgentMetrics
from longboat.gateway._metrics import GatewayMetrics
from longboat.registry import RegistryService, RegistrySettings

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "helm" / "longboat" / "files" / "grafana-dashboard.json"
_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "gauge": ("",),
}


def _exposed(registry: CollectorRegistry) -> set[str]:
    """Every series name a /metrics page of ``registry`` can carry."""
    names: set[str] = set()
    for family in registry.collect():
        names |= {family.name + suffix for suffix in _SUFFIXES[family.type]}
    return names


def _every_component() -> set[str]:
    settings = RegistrySettings(operator_token=SecretStr("t" * 32))
    registries = (
        AgentMetrics().registry,  # agents, and the coordinator (its two agents' metrics)
        GatewayMetrics().registry,
        RegistryService(settings).metrics_registry,
    )
    return set().union(*(_exposed(r) for r in registries))


def test_every_metric_follows_the_naming_scheme() -> None:
    """Every metric is longboat_<component>_<what>[_<unit>], component agent/gateway/registry."""
    pattern = re.compile(r"^longboat_(agent|gateway|registry)_[a-z_]+$")
    names = _every_component()
    assert names
    assert all(pattern.match(n) for n in names), sorted(names)


def test_the_dashboard_is_valid_and_queries_only_exposed_metrics() -> None:
    """The dashboard parses, has unique panel ids, and each query names an exposed metric."""
    dashboard = json.loads(DASHBOARD.read_text())
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    exposed = _every_component()
    queried: set[str] = set()
    for panel in panels:
        for target in panel["targets"]:
            found = set(re.findall(r"\blongboat_[a-z_]+\b", target["expr"]))
            assert found, f"panel {panel['title']!r} queries no longboat metric"
            queried |= found
    assert queried <= exposed, sorted(queried - exposed)
    families = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in exposed}
    shown = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in queried}
    assert families <= shown, f"metrics no panel shows: {sorted(families - shown)}"
