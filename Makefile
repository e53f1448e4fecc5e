# CRM suite — run `make help` for the list of targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV ?= uv
PY := $(UV) run --frozen python
TENANT ?= acme
ROLE ?= admin
TEAM ?=
REPLICAS ?= 1

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

.PHONY: install
install: ## Install Python dependencies from the lockfile (uv)
	@command -v $(UV) >/dev/null || python3 -m pip install --quiet uv
	$(UV) sync --frozen

.PHONY: run
run: install ## Start everything in the foreground (Ctrl-C stops it all); SEED=1 also fills the demo tenant; REPLICAS=2 runs 2 processes per service
	$(PY) scripts/stack.py run --replicas $(REPLICAS) $(if $(SEED),--seed)

.PHONY: up
up: install ## Start everything in the background (REPLICAS=n: n processes per service)
	$(PY) scripts/stack.py up --replicas $(REPLICAS)

.PHONY: down
down: ## Stop everything started by `make up`
	$(PY) scripts/stack.py down

.PHONY: status
status: ## Show what is running (every replica, with its port)
	$(PY) scripts/stack.py status

.PHONY: infra-up
infra-up: ## Start only FerretDB and Kafka (built/fetched on first use)
	bash scripts/infra.sh up

.PHONY: infra-down
infra-down: ## Stop FerretDB and Kafka
	bash scripts/infra.sh down

.PHONY: token
token: ## Print a dev JWT: make token TENANT=acme ROLE=admin [TEAM=north] [EMAIL=me@example.com]
	@$(PY) -m crm_common.devtoken --tenant $(TENANT) --role $(ROLE) $(if $(TEAM),--team $(TEAM)) $(if $(EMAIL),--email $(EMAIL))

.PHONY: lint
lint: install ## ruff, mypy (strict) and import-linter
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy
	$(UV) run --frozen lint-imports

.PHONY: test
test: lint supergraph-check helm-check ## Lint, unit and e2e tests against real FerretDB, Kafka and services, then the federation_peer subset through Hive Gateway
	$(UV) run --frozen pytest
	$(MAKE) test-federation-peer

.PHONY: test-federation-peer
test-federation-peer: ## The e2e tests marked federation_peer through Hive Gateway (npm) over the same supergraph
	E2E_GATEWAY=hive E2E_REPLICAS=1 $(UV) run --frozen pytest -m federation_peer tests/e2e -q

.PHONY: test-faults
test-faults: install ## Fault injection against real processes (kills the e2e broker; not in `make test`)
	$(UV) run --frozen pytest tests/faults -q -s

.PHONY: test-unit
test-unit: install ## Unit tests only (no servers)
	$(UV) run --frozen pytest -m "not e2e"

.PHONY: event-docs
event-docs: ## Regenerate the AsyncAPI document and JSON Schemas of every event (docs/events)
	$(PY) -m crm_common.events.catalog write docs/events

.PHONY: seed
seed: ## Fill the demo tenant through the gateway (needs `make up`): make seed [SEED_ARGS="--customers 300"]
	$(PY) scripts/seed.py $(SEED_ARGS)

.PHONY: replay
replay: ## Rebuild a service's read models from the topics into a new database, compare with live: make replay SERVICE=insights|customer|engagement|quoting|service-desk [DATABASE=crm_<svc>_rebuilt] [LIVE=crm_<svc>]
	@test -n "$(SERVICE)" || { echo "SERVICE=customer|engagement|quoting|service-desk|insights"; exit 2; }
	$(PY) -m crm_$(subst -,_,$(SERVICE)).adapters.replay $(if $(DATABASE),--database $(DATABASE)) $(if $(LIVE),--live $(LIVE))

.PHONY: schema
schema: ## Export the API reference: docs/api/<subgraph>.graphql and the root supergraph.graphql
	$(PY) gateway/tools/supergraph.py --out supergraph.graphql --sdl-dir docs/api

.PHONY: bench
bench: bench-gateway bench-subscriptions bench-insights bench-customer bench-load bench-live ## Benchmarks: gateway vs Hive Gateway, gateway subscriptions, event lag, customer import/list, mixed load, live subscriptions

.PHONY: clean
clean: ## Remove local state (databases, logs, built launchers)
	rm -rf var

.PHONY: supergraph
supergraph: ## Write supergraph.graphql (join spec) composed in-process from our subgraph SDLs
	$(PY) gateway/tools/supergraph.py

NODE_COMPOSE_DIR := var/node-compose
.PHONY: supergraph-check
supergraph-check: supergraph ## Check that our subgraphs compose with @theguild/federation-composition (npm)
	@mkdir -p $(NODE_COMPOSE_DIR)
	@test -d $(NODE_COMPOSE_DIR)/node_modules/@theguild/federation-composition || \
		npm install --silent --no-audit --no-fund --prefix $(NODE_COMPOSE_DIR) @theguild/federation-composition graphql
	cp gateway/tools/compose_check.mjs $(NODE_COMPOSE_DIR)/compose_check.mjs
	node $(NODE_COMPOSE_DIR)/compose_check.mjs var/supergraph

# Hive Router is built from crates.io into var/hive-router on the first run (one job; most of an
# hour on a busy 2-core machine); BENCH_BUILD_ROUTER=0 skips it when it is not built yet.
BENCH_BUILD_ROUTER ?= 1

.PHONY: bench-gateway
bench-gateway: ## Gateway benchmark, public scenario (4 Go subgraphs, 50 VUs): ours vs Hive Gateway (default, --jit, dedup) and Hive Router (first run builds it: long)
	BENCH_BUILD_ROUTER=$(BENCH_BUILD_ROUTER) $(PY) gateway/tools/bench_public.py $(BENCH_GATEWAY_ARGS)

.PHONY: bench-gateway-profile
bench-gateway-profile: ## Where our gateway's CPU goes on the public scenario (py-spy)
	$(PY) gateway/tools/bench_public.py --profile $(BENCH_GATEWAY_ARGS)

.PHONY: bench-gateway-overhead
bench-gateway-overhead: ## Gateway overhead over a direct subgraph call: ours vs Hive Gateway, three Python subgraphs
	$(PY) gateway/tools/bench.py

.PHONY: bench-subscriptions
bench-subscriptions: ## Gateway subscriptions: event -> subscriber latency p99 with 1,000 open, memory per subscription
	$(PY) gateway/tools/bench_subscriptions.py --subscriptions 1000 --events 30

BENCH_SLOT ?= 9
.PHONY: bench-insights
bench-insights: ## Event lag createCustomer -> insights read model, p99 at 200 writes/s for 20 s (own stack, BENCH_SLOT)
	$(PY) services/insights/bench/event_lag.py --slot $(BENCH_SLOT) --rate 200 --duration 20

.PHONY: bench-live
bench-live: ## Subscriptions: event -> subscriber latency p99 and memory with 1,000 open ticketChanged (own stack, BENCH_SLOT)
	$(PY) services/service-desk/bench/live_latency.py --slot $(BENCH_SLOT) --subscriptions 1000

.PHONY: bench-customer
bench-customer: ## Customer: 100k-row CSV import rows/s and list p99 over 200k customers (own FerretDB)
	$(PY) services/customer/bench/bench_customer.py

LOAD_ARGS ?= --duration 180 --concurrency 8
.PHONY: bench-load
bench-load: ## Mixed read/write load through the gateway, p50/p99, errors (must be 0), RSS; writes docs/benchmarks.md
	$(PY) scripts/load_test.py --slot $(BENCH_SLOT) $(LOAD_ARGS)

HELM := bash scripts/helm.sh
HELM_CHART := deploy/helm/crm
HELM_KUBE_VERSIONS ?= 1.32 1.36
HELM_OUT := var/helm-check
.PHONY: helm-check
helm-check: install ## Helm chart: lint, render default/prod/ci values, kubernetes-validate --strict, policy tests, server-side dry run on a local kube-apiserver
	@$(HELM) version --short
	@rm -rf $(HELM_OUT) && mkdir -p $(HELM_OUT)
	@set -euo pipefail; \
	for values in default $(HELM_CHART)/values-prod.yaml $(wildcard $(HELM_CHART)/ci/*.yaml); do \
	  name=$$(basename "$$values" .yaml); args=(); [[ $$values == default ]] || args=(-f "$$values"); \
	  echo "helm lint + template ($$name) for Kubernetes $(HELM_KUBE_VERSIONS)"; \
	  $(HELM) lint --strict --quiet $(HELM_CHART) "$${args[@]}"; \
	  for kube in $(HELM_KUBE_VERSIONS); do \
	    $(HELM) template crm $(HELM_CHART) --namespace crm --kube-version "$$kube" "$${args[@]}" \
	      > "$(HELM_OUT)/$$name-$$kube.yaml"; \
	  done; \
	done
	@set -e; for kube in $(HELM_KUBE_VERSIONS); do \
	  echo "kubernetes-validate --strict -k $$kube: $$(ls $(HELM_OUT)/*-$$kube.yaml | wc -l) renderings"; \
	  $(UV) run --frozen kubernetes-validate --strict --quiet -k "$$kube" $(HELM_OUT)/*-$$kube.yaml; \
	done
	$(UV) run --frozen pytest tests/helm -q -p no:cacheprovider
	$(PY) scripts/kube_local.py build --apiserver-only
	$(UV) run --frozen pytest tests/helm_cluster/test_server_validation.py -q -p no:cacheprovider

.PHONY: helm-e2e
helm-e2e: install ## Helm chart on a local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok nodes; built on first use): install/test/upgrade/rollback/uninstall
	$(PY) scripts/kube_local.py build
	$(UV) run --frozen pytest tests/helm_cluster -x -q -p no:cacheprovider
