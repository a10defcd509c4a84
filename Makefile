# Tieout — two commands on a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install tieout with its dev tools

run: demo ## set everything up and run the main job on the embedded default

demo: $(STAMP) ## the demo reconciliation (tieout demo), end to end
	$(BIN)/tieout demo

serve: $(STAMP) ## the API, with a worker and the projector on the embedded default
	$(BIN)/tieout serve

lint: $(STAMP) ## ruff and mypy (strict)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint ## ruff, mypy (strict) and the test suite
	$(BIN)/pytest -q

bench: $(STAMP) ## the benchmarks: matcher vs DuckDB/pandas, decisions recorded (docs/performance.md)
	$(BIN)/python bench/match.py
	$(BIN)/python bench/decisions.py

format: $(STAMP) ## format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean: ## remove build artefacts (keeps .venv and .tieout)
	rm -rf build *.egg-info .mypy_cache .ruff_cache .pytest_cache

.PHONY: help install run demo serve lint test bench format clean
