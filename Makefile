# The two commands of the README: `make run` and `make test`. Each creates .venv on first
# use and reinstalls when pyproject.toml changes, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-quick docs bench clean

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

# The suite in one process by default (XDIST_WORKERS=0). Measured on the 2-core development
# machine, it needs about 25 minutes of CPU, so 4 pytest-xdist workers took as long as one
# process (~21 minutes) and made the tests that time real waits flakier: CI runs it serially.
# On a machine with more cores, XDIST_WORKERS=auto (or N) spreads it: loadscope, refined in
# tests/conftest.py, keeps a module marked xdist_group (module fixtures: built worlds, the
# README's world) on one worker and spreads every other test on its own. PYTEST_ARGS adds to either.
XDIST_WORKERS ?= 0
XDIST := $(if $(filter 0,$(XDIST_WORKERS)),-p no:xdist,-n $(XDIST_WORKERS) --dist loadscope)

test: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

# What a change is checked against first: everything not marked slow (browsers, the check
# suite against receivers, servers started and stopped, wheels, load runs); CI runs `make test`.
test-quick: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest $(XDIST) -m "not slow" $(PYTEST_ARGS)

# The manual (README.md and docs/) as a site on http://127.0.0.1:8000/, rebuilt as you edit
# (DOCS_ARGS="--dev-addr 127.0.0.1:9001" to change). It needs MkDocs only, not the test tools.
DOCS_STAMP := $(VENV)/.installed-docs

$(DOCS_STAMP): $(RUNTIME_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000 $(DOCS_ARGS)

# Timing targets live here, not in the tests: each script prints ours beside a baseline
# (bench_feel: the speeds a user waits on, issue 22; bench_check: the whole check suite
# against a correct receiver, target < 30 s).
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python benchmarks/bench_feel.py
	$(BIN)/python benchmarks/bench_generate.py
	$(BIN)/python benchmarks/bench_simulate.py
	$(BIN)/python benchmarks/simulate_phases.py
	$(BIN)/python benchmarks/bench_delivery.py
	$(BIN)/python benchmarks/bench_validate.py
	$(BIN)/python benchmarks/bench_relay.py
	$(BIN)/python benchmarks/bench_check.py
	$(BIN)/python benchmarks/bench_hostile_clients.py
	$(BIN)/python benchmarks/bench_load.py
	$(BIN)/python benchmarks/bench_zenoti_api.py
	$(BIN)/python benchmarks/bench_startup.py
	$(BIN)/python benchmarks/bench_hostile.py

clean:
	rm -rf $(VENV) build dist site *.egg-info
