# CRM suite — run `make help` for the list of targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV ?= uv
PY := $(UV) run --frozen python
TENANT ?= acme
ROLE ?= admin
TEAM ?=

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

.PHONY: install
install: ## Install Python dependencies from the lockfile (uv)
	@command -v $(UV) >/dev/null || python3 -m pip install --quiet uv
	$(UV) sync --frozen

.PHONY: run
run: install ## Start everything in the foreground (Ctrl-C stops it all) and print the URLs
	$(PY) scripts/stack.py run

.PHONY: up
up: install ## Start everything in the background
	$(PY) scripts/stack.py up

.PHONY: down
down: ## Stop everything started by `make up`
	$(PY) scripts/stack.py down

.PHONY: status
status: ## Show what is running
	$(PY) scripts/stack.py status

.PHONY: infra-up
infra-up: ## Start only FerretDB and Kafka (built/fetched on first use)
	bash scripts/infra.sh up

.PHONY: infra-down
infra-down: ## Stop FerretDB and Kafka
	bash scripts/infra.sh down

.PHONY: token
token: ## Print a dev JWT: make token TENANT=acme ROLE=admin [TEAM=north]
	@$(PY) -m crm_common.devtoken --tenant $(TENANT) --role $(ROLE) $(if $(TEAM),--team $(TEAM))

.PHONY: lint
lint: install ## ruff, mypy (strict) and import-linter
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy
	$(UV) run --frozen lint-imports

.PHONY: test
test: lint ## Lint, then unit and e2e tests against real FerretDB, Kafka and services
	$(UV) run --frozen pytest

.PHONY: test-unit
test-unit: install ## Unit tests only (no servers)
	$(UV) run --frozen pytest -m "not e2e"

.PHONY: event-docs
event-docs: ## Regenerate the AsyncAPI document and JSON Schemas of every event (docs/events)
	$(PY) -m crm_common.events.catalog write docs/events

.PHONY: bench
bench: ## Benchmarks (none yet in the walking skeleton)
	@echo "No benchmarks yet: they arrive with the customer, insights and gateway issues."

.PHONY: clean
clean: ## Remove local state (databases, logs, built launchers)
	rm -rf var
