# Tieout — two commands on a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Two stamps: `make run` needs the runtime dependencies only; `make test` adds the dev tools.
RUN_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# setup.py and the C sources too: an editable install builds the extensions in place
NATIVE := setup.py $(wildcard engine/*.c engine/*/*.c)

$(RUN_STAMP): pyproject.toml $(NATIVE) | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $(RUN_STAMP)

$(DEV_STAMP): pyproject.toml $(NATIVE) | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(RUN_STAMP) $(DEV_STAMP)

install: $(DEV_STAMP) ## create .venv and install tieout with its dev tools

install-runtime: $(RUN_STAMP) ## create .venv and install tieout with its runtime dependencies only

run: demo ## set everything up and run the main job on the embedded default

demo: $(RUN_STAMP) ## the demo reconciliation (tieout demo), end to end
	$(BIN)/tieout demo

serve: $(RUN_STAMP) ## the API, with a worker and the projector on the embedded default
	$(BIN)/tieout serve

lint: $(DEV_STAMP) ## ruff and mypy (strict)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint ## ruff, mypy (strict) and the test suite
	$(BIN)/pytest -q

# `make test-deep`: mutants tested at once (MUTMUT_CHILDREN=1 leaves a core to the rest), and
# their tests' database: TIEOUT_TEST_DATABASE_URL, else the server on 127.0.0.1:5432 when one
# answers (as in .ci/run), else every mutant's tests start an embedded PostgreSQL of their own.
MUTMUT_CHILDREN ?= 2
DEEP_DATABASE_URL = $(or $(TIEOUT_TEST_DATABASE_URL),$(shell pg_isready -h 127.0.0.1 -p 5432 -q \
	2>/dev/null && echo postgresql://postgres@127.0.0.1:5432/test))

# The hypothesis tests: tests/property, and the two that need a database.
DEEP_PROPERTIES = tests/property tests/integration/test_review_properties.py \
	tests/httpapi/test_openapi.py

test-deep: $(DEV_STAMP) ## nightly: properties with 20x the examples on fresh seeds; mutation run and score
	env -u CI TIEOUT_TEST_EXAMPLES_SCALE=20 TIEOUT_TEST_DATABASE_URL=$(DEEP_DATABASE_URL) \
		$(BIN)/pytest -q -p no:cacheprovider $(DEEP_PROPERTIES)
	TIEOUT_TEST_DATABASE_URL=$(DEEP_DATABASE_URL) $(BIN)/mutmut run --max-children $(MUTMUT_CHILDREN)
	$(BIN)/python tests/mutation_score.py
	$(BIN)/mutmut results

bench: $(DEV_STAMP) ## the benchmarks: matcher vs DuckDB/pandas, decisions recorded (docs/performance.md)
	$(BIN)/python bench/match.py
	$(BIN)/python bench/decisions.py

format: $(DEV_STAMP) ## format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean: ## remove build artefacts (keeps .venv and .tieout)
	rm -rf build *.egg-info .mypy_cache .ruff_cache .pytest_cache

.PHONY: help install install-runtime run demo serve lint test test-deep bench format clean
