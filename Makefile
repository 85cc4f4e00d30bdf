# Quick start: `make run` serves the hub on http://127.0.0.1:8000; `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
ARGS   ?=

.PHONY: run test lint fmt bench demo migrate clean install install-dev

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(VENV)/.runtime $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

run: $(VENV)/.runtime
	$(BIN)/hub serve $(ARGS)

demo: $(VENV)/.runtime
	$(BIN)/hub serve --demo $(ARGS)

migrate: $(VENV)/.runtime
	$(BIN)/hub migrate

test: $(VENV)/.dev
	$(BIN)/python -m pytest $(ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check hub rest realtime storage tests bench
	$(BIN)/mypy

fmt: $(VENV)/.dev
	$(BIN)/ruff check --fix hub rest realtime storage tests bench
	$(BIN)/ruff format hub rest realtime storage tests bench

bench: $(VENV)/.dev
	$(BIN)/python -m bench.run $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts
