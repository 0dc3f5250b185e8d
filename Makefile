# Finks: `make demo` (materialize bronze -> gold for the last 5 sessions) and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV ?= .venv
BIN := $(VENV)/bin
export FINKS_DATA_DIR ?= $(CURDIR)/.finks
export DAGSTER_HOME ?= $(FINKS_DATA_DIR)/dagster_home
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DAGSTER_DISABLE_TELEMETRY := 1

.PHONY: help install manifest demo test dev api bench bench-profile bench-api lint lock clean up down

help:
	@echo "make demo   - install, then materialize bronze -> silver -> gold for the last 5 trading days"
	@echo "make test   - the full offline test suite"
	@echo "make dev    - dagster dev on http://127.0.0.1:3000 (lineage graph, partitions, backfills)"
	@echo "make api    - the data API on http://127.0.0.1:$${FINKS_API_PORT:-8000} (docs at /docs) over the demo warehouse"
	@echo "make bench  - pipeline benchmarks vs plain DuckDB -> docs/benchmarks.md (BENCH_MODE=--quick|--full)"
	@echo "make bench-api - load benchmark of the data API -> docs/benchmarks-api.md"
	@echo "make up     - Docker: MinIO + Postgres + Dagster (FINKS_ENV=s3) from compose.yaml; make down stops it"
	@echo "make lint   - ruff"
	@echo "make clean  - remove $(FINKS_DATA_DIR) and dbt build output"

$(BIN)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required (python3.11/3.12/3.13 on PATH)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,infra]'
	@touch $@

install: $(BIN)/.installed

# The dbt manifest is a build artifact: parsed here, never at import time. --target duckdb: the
# target local runs pass, so their first build re-uses this parse (partial parsing).
finks_dbt/target/manifest.json: $(BIN)/.installed $(shell find finks_dbt -name '*.sql' -o -name '*.yml' -o -name '*.csv' 2>/dev/null | grep -v -e /target/ -e /logs/)
	cd finks_dbt && ../$(BIN)/dbt parse --quiet --profiles-dir . --target duckdb
	@touch $@

manifest: finks_dbt/target/manifest.json

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

demo: manifest $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/finks demo --days 5

test: manifest
	$(BIN)/python -m pytest

dev: manifest $(DAGSTER_HOME)/dagster.yaml
	# dagster dev runs `dbt parse` (prepare_if_dev) through `dbt` on PATH: use the venv's.
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dagster dev -w workspace.yaml --host 127.0.0.1 --port 3000

# The data API (finks_api) over $(FINKS_DATA_DIR)/warehouse.duckdb; port from FINKS_API_PORT (8000).
# Create a key first: $(BIN)/python -m finks_api.cli keys create --scope prices:read
api: install
	$(BIN)/python -m finks_api.cli serve --host 127.0.0.1

# Pipeline benchmarks (bench/, issue 8): not part of `make test`. BENCH_MODE=--standard (the sizes
# in docs/benchmarks.md, ~15 min), --quick (smoke, minutes) or --full (the issue's sizes, hours).
BENCH_MODE ?= --standard
$(BIN)/.bench-installed: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	@touch $@

bench: manifest $(BIN)/.bench-installed
	$(BIN)/python -m bench $(BENCH_MODE)

bench-profile: manifest $(BIN)/.bench-installed
	$(BIN)/python -m bench.profile --tickers 50 --days 63 --out docs/benchmarks-profile.txt

bench-api: manifest
	$(BIN)/python -m bench.api_load --duration 5

# The image's hash-locked dependencies (Dockerfile). Re-run after changing pyproject.toml deps.
lock: install
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra athena --extra deploy --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --generate-hashes --no-header --quiet -o requirements.lock

# Docker users: the whole stack in FINKS_ENV=s3 (compose.yaml). Needs Docker Compose v2
# (`docker compose`) or v1 (`docker-compose`).
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
up:
	$(COMPOSE) -f compose.yaml up -d --build

down:
	$(COMPOSE) -f compose.yaml down

lint: install
	$(BIN)/ruff check finks_assets finks_assets_tests finks_api

clean:
	rm -rf $(FINKS_DATA_DIR) finks_dbt/target finks_dbt/logs
