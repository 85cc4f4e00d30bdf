# Quick start: `make run` serves the hub on http://127.0.0.1:8000; `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
ARGS   ?=
LOCK   := requirements/lock.txt

# Every install is constrained by the lock file, so a new release of any dependency cannot change a
# fresh install; `make lock` is the one place versions move. The project is built without isolation,
# with the setuptools the lock pins, instead of whatever setuptools is newest that day.
# The flat layout (hub/, rest/, realtime/, storage/ side by side) makes setuptools install the editable
# project through a meta-path finder and print an informational "Editable installation" notice on every
# install; only that notice is silenced.
PIP := PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install -q -c $(LOCK)
PYTEST_COV := --cov --cov-report=

.PHONY: run test lint fmt bench bench-social bench-rest demo migrate clean install install-dev lock browser coverage

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(PIP) pip setuptools

$(VENV)/.runtime: pyproject.toml $(LOCK) | $(BIN)/python
	$(PIP) --no-build-isolation -e .
	touch $@

$(VENV)/.dev: pyproject.toml $(LOCK) | $(BIN)/python
	$(PIP) --no-build-isolation -e '.[dev]'
	touch $(VENV)/.runtime $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

# Re-resolve the lock (runtime and dev, every platform) keeping current pins where they still fit;
# `make lock ARGS=--upgrade` moves everything to the newest allowed versions.
lock: $(VENV)/.dev
	printf 'pip\nsetuptools>=77\n' | $(BIN)/uv pip compile -q pyproject.toml - --extra dev --universal \
	  --python-version 3.11 --custom-compile-command 'make lock' -o $(LOCK) $(ARGS)

# Quiet by default (warnings and errors only): the hub prints where it listens. HUB_LOG_LEVEL=INFO shows
# the request and event log lines.
HUB_QUIET := HUB_LOG_LEVEL=$${HUB_LOG_LEVEL:-WARNING}

run: $(VENV)/.runtime
	@$(HUB_QUIET) $(BIN)/hub serve $(ARGS)

demo: $(VENV)/.runtime
	@$(HUB_QUIET) $(BIN)/hub serve --demo $(ARGS)

migrate: $(VENV)/.runtime
	$(BIN)/hub migrate

# The browser tests need Chromium: the system's, else Debian's package (as root), else Playwright's build.
browser: $(VENV)/.dev
	$(BIN)/python -m tests.support.provision_browser

test: $(VENV)/.dev browser
	$(BIN)/python -m pytest $(PYTEST_COV) $(ARGS)
	@$(BIN)/coverage report --format=total | sed 's/.*/coverage: & % of hub, rest, realtime and storage (make coverage: per file)/'

coverage: $(VENV)/.dev browser
	$(BIN)/python -m pytest $(PYTEST_COV) $(ARGS)
	$(BIN)/coverage report --skip-covered --fail-under=80

lint: $(VENV)/.dev
	$(BIN)/ruff check hub rest realtime storage tests bench
	$(BIN)/ruff format --check hub rest realtime storage tests bench
	$(BIN)/mypy

fmt: $(VENV)/.dev
	$(BIN)/ruff check --fix hub rest realtime storage tests bench
	$(BIN)/ruff format hub rest realtime storage tests bench

bench: $(VENV)/.dev
	$(BIN)/python -m bench.run $(ARGS)

bench-social: $(VENV)/.dev
	$(BIN)/python -m bench.social $(ARGS)

bench-rest: $(VENV)/.dev
	$(BIN)/python -m bench.rest $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts .coverage .coverage.*
