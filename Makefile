# Longboat: `make demo` and `make test` do all setup on a fresh machine.
# Needs: python3 (>= 3.11), java (>= 17), mvn, go. Everything else is provisioned here.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LB     := $(BIN)/longboat
OPA     = $$($(LB) dev provision 2>/dev/null | awk '/^opa /{print $$2}')

.PHONY: help venv lint typecheck provision provision-test test unit helm-test integration policy-test demo demo-down bench bench-peers chaos clean distclean lock

help:
	@echo "make demo   - run the governed claims fleet (fleet up) and drive it end to end"
	@echo "make test   - install everything, lint, type-check and run the whole suite"
	@echo "make bench  - run the benchmarks (figures beside a raw-aiokafka baseline)"
	@echo "make bench-peers - Longboat beside DBOS Transact and Temporal (docs/benchmarks.md)"
	@echo "make chaos  - the claims fleet under kills, a broker restart, OPA stopped (docs/chaos.md)"
	@echo "make clean  - stop the local stack, remove the venv and caches (keeps jars/opa)"

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $@

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Provision Kafka's jars and OPA before pytest, so that a cold build never runs under a test timeout.
provision: $(STAMP)
	$(LB) dev provision

# The test suite also needs the chart tests' tools (helm, kube-apiserver + kubectl, etcd) and
# the tracing tests' OpenTelemetry Collector (each built from the Go module proxy, only when
# missing) and, for the image test, buildah and debootstrap from Debian's packages, and chromium
# for the browser tests (Playwright's own browser download is not reachable here). Installed
# when running as root with apt-get; otherwise those tests skip locally and fail under CI=true,
# saying what to install.
provision-test: provision
	@if ! command -v buildah >/dev/null || ! command -v debootstrap >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing buildah and debootstrap (Debian packages) for the image test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah debootstrap >/dev/null; \
	  else echo "note: the image test needs buildah and debootstrap (apt-get install buildah debootstrap, as root)"; fi; \
	fi
	@if ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium (Debian package) for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: the browser tests need chromium (apt-get install chromium, as root)"; fi; \
	fi
	$(BIN)/python -m tests.helm.provision
	$(BIN)/python -m tests.tools.provision

# Regal (the Rego linter) cannot be installed here: the Go module proxy refuses its module
# (403, both github.com/open-policy-agent/regal and styrainc/regal). opa check --strict and
# opa fmt enforce what they can; see docs/policies.md.
policy-test: provision
	$(OPA) fmt --list --fail policies
	$(OPA) check --strict policies
	$(OPA) test policies
	$(OPA) test --coverage --format json policies | $(BIN)/python -c 'import json,sys; c=json.load(sys.stdin)["coverage"]; print(f"rego coverage {c:.1f}%"); sys.exit(0 if c >= 90 else "rego coverage is below 90%")'

unit: $(STAMP)
	$(BIN)/pytest tests/unit

# The Helm chart: lint, schema validation, manifest properties, a real kube-apiserver install.
helm-test: provision-test
	$(BIN)/pytest tests/helm

integration: provision-test
	$(BIN)/pytest tests/integration tests/e2e tests/browser

test: lint typecheck provision-test policy-test
	$(BIN)/pytest tests

# fleet up starts the local broker itself; the fleet stays up for Mission Control afterwards.
demo: provision
	$(BIN)/python -m examples.demo

demo-down: $(STAMP)
	-$(LB) fleet down -f examples/claims/fleet.yaml
	$(LB) dev down

bench: provision
	$(BIN)/python -m bench.kernel_throughput
	$(BIN)/python -m bench.agent_throughput
	$(BIN)/python -m bench.gateway_latency
	$(BIN)/python -m bench.adversarial_budget
	$(BIN)/python -m bench.coordinator_bench
	$(BIN)/python -m bench.memory_search
	$(BIN)/python -m bench.llm_gateway
	$(BIN)/python -m bench.latency
	$(BIN)/python -m bench.restart
	$(BIN)/python -m bench.scaling --charts docs/img
	$(BIN)/python -m bench.workflow_scaling --charts docs/img
	$(BIN)/python -m bench.profile_agent

# Longboat beside DBOS Transact (SQLite, Postgres) and Temporal on one workload. Each peer is
# installed into its own venv under the cache (Postgres from Debian's packages, the temporal CLI
# built from the Go module proxy); never part of `make test`. PEERS_ARGS overrides, e.g.
# PEERS_ARGS="--events 1000 --only temporal".
PEERS_ARGS ?=
bench-peers: provision
	$(BIN)/python -m bench.peers $(PEERS_ARGS)

# The whole fleet under faults on its own broker (docs/chaos.md); exits 1 on any violation.
# CHAOS_ARGS overrides the configuration, e.g. CHAOS_ARGS="--workflows 1000 --kills 6".
CHAOS_ARGS ?= --workflows 10000 --kills 24 --rate 10 --deadline-min 25
chaos: provision
	$(BIN)/python -m tests.chaos.fleet_chaos $(CHAOS_ARGS)

clean:
	-@test -x $(LB) && $(LB) dev down
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .longboat/dev *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf .longboat

lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -e '.[dev]'
	{ echo "# Pinned versions of every runtime and development dependency; regenerate with 'make lock'."; \
	  .lock-venv/bin/pip freeze --exclude-editable | grep -v '^#'; } > requirements.lock
	rm -rf .lock-venv
