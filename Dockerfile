# syntax=docker/dockerfile:1
# The Longboat image: every component (`longboat run registry|gateway|coordinator|agent`), the
# CLI and the setup Job, with the user's code (agents, workflows, policies) in /app.
# OPA runs beside the gateway from its own image (openpolicyagent/opa, see helm/longboat); its
# binary is copied here only for `longboat policy publish`, which checks a bundle before it sends it.
#
#   docker build -t longboat:0.1.0 .
#   docker build --build-arg APP_DIR=path/to/your/code -t my-fleet:1 .
#
# Pinned: the base by Python minor version and Debian release (pin by digest in your registry:
# PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:...), every Python package by requirements.lock.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG OPA_IMAGE=openpolicyagent/opa:1.22.2-static

FROM ${OPA_IMAGE} AS opa

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python3 -m venv /opt/longboat/venv
COPY requirements.lock pyproject.toml README.md ./
# longboat/ links the component folders in (longboat/agents -> ../agents): copy both sides.
COPY longboat ./longboat
COPY agents ./agents
COPY coordinator ./coordinator
COPY gateway ./gateway
COPY registry ./registry
COPY cli ./cli
# Build the wheel, then install it (with the `otel` extra: the OTEL_* variables can switch
# tracing on, docs/observability.md) and its dependencies at the locked versions only. Behind a
# TLS-intercepting proxy, pass its CA as a build secret (never stored in a layer):
#   docker build --secret id=pip-ca,src=/etc/ssl/certs/ca-certificates.crt .
RUN --mount=type=secret,id=pip-ca \
    if [ -f /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
 && /opt/longboat/venv/bin/pip wheel --no-deps --wheel-dir /wheels . \
 && /opt/longboat/venv/bin/pip install -c requirements.lock "$(ls /wheels/longboat-*.whl)[otel]" \
 && /opt/longboat/venv/bin/python -m compileall -q /opt/longboat/venv

FROM ${PYTHON_IMAGE} AS runtime
ARG APP_DIR=.
# One unprivileged user; the chart runs as the same uid (runAsUser: 10001).
RUN groupadd --system --gid 10001 longboat \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /tmp \
      --shell /usr/sbin/nologin longboat
COPY --from=builder /opt/longboat/venv /opt/longboat/venv
COPY --from=opa /opa /opt/longboat/cache/opa-v1.22.2/opa
# Read-only root filesystem friendly: nothing is written outside /tmp (an emptyDir on Kubernetes).
ENV PATH=/opt/longboat/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    LONGBOAT_CACHE_DIR=/opt/longboat/cache \
    LONGBOAT_DEV_HOME=/tmp/longboat \
    LONGBOAT_LOG_FORMAT=json
WORKDIR /app
# The user's code: agent modules, workflow definitions and policies, owned by root (read-only).
COPY ${APP_DIR}/examples ./examples
COPY ${APP_DIR}/policies ./policies
USER 10001:10001
ENTRYPOINT ["longboat"]
CMD ["--help"]
