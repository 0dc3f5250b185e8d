# Finks: `make demo` (materialize bronze -> gold for the last 5 sessions) and `make test`.
SHELL := /bin/bash
# Python policy (pyproject's requires-python): 3.11 lowest, 3.13 highest supported. Pick the
# highest supported interpreter on PATH; CI sets PYTHON to the matrix version.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null && { command -v $$p; break; }; done)
VENV ?= .venv
BIN := $(VENV)/bin
# uv installs from the one lock (uv.lock). A uv already on PATH is used; otherwise the first run
# installs it from PyPI into .uv/ (needs only Python and pip).
UV_BOOTSTRAP := $(CURDIR)/.uv/bin/uv
UV ?= $(shell command -v uv 2>/dev/null || echo $(UV_BOOTSTRAP))
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
# --frozen: install exactly uv.lock, never re-resolve (`make lock` does that). --inexact: a group
# synced later (test, bench) does not uninstall another one synced earlier.
PYTHON_EXE := $(if $(PYTHON),$(shell $(PYTHON) -c 'import sys; print(sys.executable)' 2>/dev/null))
UV_SYNC = $(UV) sync --frozen --inexact $(if $(PYTHON_EXE),--python $(PYTHON_EXE))
export FINKS_DATA_DIR ?= $(CURDIR)/.finks
export DAGSTER_HOME ?= $(FINKS_DATA_DIR)/dagster_home
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DAGSTER_DISABLE_TELEMETRY := 1

.PHONY: replay-demo help install install-test manifest demo test dev api bench bench-profile bench-api lint lock lock-check runtime-requirements clean up down

help:
	@echo "make demo   - install, then materialize bronze -> silver -> gold for the last 5 trading days"
	@echo "make test   - the full offline test suite"
	@echo "make dev    - dagster dev on http://127.0.0.1:3000 (lineage graph, partitions, backfills)"
	@echo "make api    - the data API on http://127.0.0.1:$${FINKS_API_PORT:-8000} (docs at /docs) over the demo warehouse"
	@echo "make bench  - pipeline benchmarks vs plain DuckDB -> docs/benchmarks.md (BENCH_MODE=--quick|--full)"
	@echo "make bench-api - load benchmark of the data API -> docs/benchmarks-api.md"
	@echo "make up     - Docker: MinIO + Postgres + Dagster (FINKS_ENV=s3) from compose.yaml; make down stops it"
	@echo "make lint   - ruff and deptry (every imported package is declared in pyproject.toml)"
	@echo "make lock   - refresh uv.lock after changing dependencies in pyproject.toml"
	@echo "make clean  - remove $(FINKS_DATA_DIR) and dbt build output"

# pip --target skips creating a venv (ensurepip): 2.9 s instead of 7.7 s of CPU here. Pythons
# without pip (Debian's python3 without python3-pip) fall back to a venv, which brings its own.
$(UV_BOOTSTRAP):
	@test -n "$(PYTHON)" || { echo "Python 3.11-3.13 is required (python3.11/3.12/3.13 on PATH)"; exit 1; }
	$(PYTHON) -m pip install --quiet --target .uv "uv>=0.8,<1" 2>/dev/null \
	  || { rm -rf .uv && $(PYTHON) -m venv .uv && .uv/bin/python -m pip install --quiet "uv>=0.8,<1"; }

# The runtime set only (pyproject's [project] dependencies): what demo/dev/api need (the image
# ships it plus the k8s extra). Test, lint, deploy and bench tools are dependency groups,
# installed by the targets that need them. (--no-default-groups: not `dev`, uv's default.)
$(BIN)/.installed: pyproject.toml uv.lock | $(UV)
	@test -n "$(PYTHON_EXE)" || { echo "Python 3.11-3.13 is required (python3.11/3.12/3.13 on PATH)"; exit 1; }
	$(UV_SYNC) --no-default-groups
	@touch $@

$(BIN)/.test-installed: $(BIN)/.installed
	$(UV_SYNC) --no-default-groups --group test --extra k8s
	@touch $@

# deptry maps import names to packages from installed metadata, so lint needs every group and extra.
$(BIN)/.lint-installed: $(BIN)/.installed
	$(UV_SYNC) --all-groups --all-extras
	@touch $@

install: $(BIN)/.installed
install-test: $(BIN)/.test-installed

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

# The intraday stream end to end: replay the last session as micro-batches, live VWAP, compaction.
replay-demo: manifest $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/finks replay-demo

# pytest-xdist workers, each taking whole test modules (--dist loadfile keeps a module's
# fixtures, such as a dagster dev instance, on one worker). Much of the integration tier waits on
# servers and daemon ticks, so three workers on 2 cores finish sooner: a fresh-clone CI run took
# 41 min of pytest in one process and 19-26 min with three; 17.5 min since launched runs execute
# in process (the webserver backfill module, ~9 min, is the long pole).
# TEST_WORKERS=0 runs everything in this process (pytest's own output, pdb).
# The tests' temp folders (lakes, warehouses, dagster homes) go under one fresh directory, removed
# when the run passed and kept (its path printed) when it failed. pytest's own retention policy
# left module fixtures' folders of xdist workers behind (36 MB after a passing run).
TEST_WORKERS ?= 3
test: manifest $(BIN)/.test-installed
	@tmp=$$(mktemp -d -t finks-test-XXXXXX); \
	$(BIN)/python -m pytest --basetemp="$$tmp/pytest" \
	  $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile); rc=$$?; \
	if [ $$rc -eq 0 ]; then rm -rf "$$tmp"; else echo "test files of the failed run kept in $$tmp"; fi; \
	exit $$rc

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
	$(UV_SYNC) --no-default-groups --group bench
	@touch $@

bench: manifest $(BIN)/.bench-installed
	$(BIN)/python -m bench $(BENCH_MODE)

bench-profile: manifest $(BIN)/.bench-installed
	$(BIN)/python -m bench.profile --tickers 50 --days 63 --out docs/benchmarks-profile.txt

bench-api: manifest
	$(BIN)/python -m bench.api_load --duration 5

# Re-resolve uv.lock after changing dependencies in pyproject.toml (Dependabot bumps it weekly).
lock: | $(UV)
	$(UV) lock

# CI: fails when pyproject.toml changed and uv.lock was not refreshed.
lock-check: | $(UV)
	$(UV) lock --check

# The image's package set (uv.lock's runtime set + the k8s extra, as the Dockerfile installs it),
# for ci.yml's image comparison.
runtime-requirements: | $(UV)
	@$(UV) export --frozen --no-dev --extra k8s --no-emit-project --no-hashes --no-header --no-annotate

# Docker users: the whole stack in FINKS_ENV=s3 (compose.yaml). Needs Docker Compose v2
# (`docker compose`) or v1 (`docker-compose`).
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
up:
	$(COMPOSE) -f compose.yaml up -d --build

down:
	$(COMPOSE) -f compose.yaml down

# deptry: declared imports (pyproject's [tool.deptry] says why the two runs differ).
lint: $(BIN)/.lint-installed
	$(BIN)/ruff check finks_assets finks_assets_tests finks_api
	$(BIN)/deptry finks_assets finks_api
	$(BIN)/deptry finks_assets_tests bench deploy/infra --ignore DEP002,DEP004

clean:
	rm -rf $(FINKS_DATA_DIR) finks_dbt/target finks_dbt/logs
