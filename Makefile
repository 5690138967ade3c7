# Two commands on a fresh machine: `make run` and `make test` (both bootstrap uv and the venvs).
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
UV_VERSION := 0.13.8
RUN := $(UV) run --locked --no-sync
# dbt's own environment (the workspace member dbt/, package analytics-marts, from the same uv.lock):
# the code location's .venv has no dbt-core, so Dagster's processes never import it (issue #9).
DBT_ENV := $(CURDIR)/.venv-dbt
DBT := $(DBT_ENV)/bin/dbt
export ANALYTICS_HOME ?= $(CURDIR)/var
export DAGSTER_HOME ?= $(ANALYTICS_HOME)/dagster

.PHONY: bootstrap run history test ui lint format bench docs clean

bootstrap:  ## install uv (if missing) and the locked environments: .venv (Dagster) and .venv-dbt (dbt)
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	@$(UV) sync --locked --compile-bytecode --quiet
	@# The project's own modules as bytecode too (uv compiles site-packages only, and the project is
	@# an editable install): every Dagster process imports them, even where PYTHONDONTWRITEBYTECODE=1.
	@$(RUN) python -m compileall -q analytics_platform assets resources jobs sensors
	@UV_PROJECT_ENVIRONMENT=$(DBT_ENV) $(UV) sync --locked --compile-bytecode --quiet --package analytics-marts
	@# The dbt manifest the marts' assets load (offline: the project has no packages).
	@cd dbt && $(DBT) parse --quiet --profiles-dir .

run: bootstrap  ## simulate a trading day, publish it to Pulsar, materialise the end-of-day graph
	$(RUN) analytics-platform run-day $(ARGS)

history: bootstrap  ## the last 20 trading days, simulated and materialised through a Dagster backfill
	$(RUN) analytics-platform backfill $(ARGS)

PYTEST_ARGS ?= -n 2

test: bootstrap  ## the test suite (real broker, real Delta, real Dagster)
	$(RUN) pytest $(PYTEST_ARGS)

ui: bootstrap  ## Dagster UI + daemon on http://127.0.0.1:3000 (schedules and sensors loaded)
	$(RUN) analytics-platform ui

lint: bootstrap
	$(RUN) ruff check .
	$(RUN) ruff format --check .

format: bootstrap
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

bench: bootstrap  ## benchmarks: prints a table, writes benchmarks/results/*.json
	$(RUN) python -m benchmarks $(ARGS)

docs: bootstrap  ## dbt docs of the marts (dbt/target/index.html) over the warehouse and lake of ANALYTICS_HOME
	cd dbt && $(DBT) docs generate --profiles-dir .

clean:  ## remove the embedded runtime state (lake, broker, Dagster instance)
	rm -rf "$(ANALYTICS_HOME)"
