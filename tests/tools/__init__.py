"""Tools the tests build from the Go module proxy (the OpenTelemetry Collector)."""
