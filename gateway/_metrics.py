"""Prometheus metrics of the gateway."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["GatewayMetrics"]


class GatewayMetrics:
    """Decisions by result and source, decision latency, tool calls."""

    def __init__(self) -> None:
        """Create the metrics in a registry of their own."""
        self.registry = CollectorRegistry()
        self._decisions = Counter(
            "longboat_gateway_decisions",
            "Policy decisions",
            ["result", "source"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "longboat_gateway_decision_duration_seconds",
            "Time to a policy decision",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25),
            registry=self.registry,
        )
        self._tools = Counter(
            "longboat_gateway_tool_calls",
            "Tool invocations",
            ["tool", "executed"],
            registry=self.registry,
        )
        self._mcp_paths = Counter(
            "longboat_gateway_mcp_tool_calls",
            "tools/call sent to Streamable HTTP MCP servers, by path: lean (one JSON-RPC POST) "
            "or sdk:<why the lean path was not taken>",
            ["server", "path"],
            registry=self.registry,
        )

    def decided(self, allow: bool, source: str, seconds: float) -> None:
        """Count and time one decision."""
        self._decisions.labels("allow" if allow else "deny", source).inc()
        self._latency.observe(seconds)

    def tool_called(self, tool: str, executed: bool) -> None:
        """Count one tool call (executed, or answered from the ledger)."""
        self._tools.labels(tool, str(executed).lower()).inc()

    def mcp_call_path(self, server: str, path: str) -> None:
        """Count one upstream ``tools/call`` by the path it took."""
        self._mcp_paths.labels(server, path).inc()
