# The two commands of the README: `make run` and `make test`. Each creates .venv on first
# use and reinstalls when pyproject.toml changes, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-quick bench clean

# `make run` needs the runtime only; `make test` adds the test extras (pytest, Playwright,
# schemathesis...: three times the size) on top of the same venv.
RUNTIME_STAMP := $(VENV)/.installed-runtime
NODE_DIR := tests/node
NODE_STAMP := $(NODE_DIR)/node_modules/.installed

$(RUNTIME_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME_STAMP)

$(STAMP): $(RUNTIME_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# express, for the README's Express receiver (tests/test_readme_receivers.py), from its lock
# file. Without Node.js that one test is skipped and says what to install.
$(NODE_STAMP): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $(NODE_DIR) --no-audit --no-fund --silent && touch $(NODE_STAMP); \
	else \
		echo "Node.js (npm) not found: the Express receiver test will be skipped (apt-get install nodejs npm)"; \
	fi

# The dashboard, API and built-in sink on http://127.0.0.1:8025/ (SERVE_ARGS="--port 9000" to change).
run: $(RUNTIME_STAMP)
	$(BIN)/zenoti-emulator serve $(SERVE_ARGS)

# The suite on XDIST_WORKERS workers (pytest-xdist): most tests wait on subprocesses, loopback
# HTTP, browsers and Node, so four workers on two cores beat two. loadscope, refined in
# tests/conftest.py, keeps a module marked xdist_group (module fixtures: built worlds, the
# README's world) on one worker and spreads every other test on its own. XDIST_WORKERS=0 runs it in one process; PYTEST_ARGS adds to either.
XDIST_WORKERS ?= 4
XDIST := $(if $(filter 0,$(XDIST_WORKERS)),-p no:xdist,-n $(XDIST_WORKERS) --dist loadscope)

test: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

# What a change is checked against first: everything not marked slow (browsers, the check
# suite against receivers, servers started and stopped, wheels, load runs); CI runs `make test`.
test-quick: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest $(XDIST) -m "not slow" $(PYTEST_ARGS)

# Timing targets live here, not in the tests: each script prints ours beside a baseline
# (bench_feel: the speeds a user waits on, issue 22; bench_check: the whole check suite
# against a correct receiver, target < 30 s).
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python benchmarks/bench_feel.py
	$(BIN)/python benchmarks/bench_generate.py
	$(BIN)/python benchmarks/bench_simulate.py
	$(BIN)/python benchmarks/bench_delivery.py
	$(BIN)/python benchmarks/bench_validate.py
	$(BIN)/python benchmarks/bench_relay.py
	$(BIN)/python benchmarks/bench_check.py
	$(BIN)/python benchmarks/bench_hostile_clients.py
	$(BIN)/python benchmarks/bench_load.py

clean:
	rm -rf $(VENV) build dist *.egg-info
