# The two commands of the README: `make run` and `make test`. Each creates .venv on first
# use and reinstalls when pyproject.toml changes, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The dashboard, API and built-in sink on http://127.0.0.1:8025/ (SERVE_ARGS="--port 9000" to change).
run: $(STAMP)
	$(BIN)/zenoti-emulator serve $(SERVE_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Timing targets live here, not in the tests: each script prints ours beside a baseline
# (bench_check: the whole check suite against a correct receiver, target < 30 s).
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python benchmarks/bench_generate.py
	$(BIN)/python benchmarks/bench_simulate.py
	$(BIN)/python benchmarks/bench_delivery.py
	$(BIN)/python benchmarks/bench_validate.py
	$(BIN)/python benchmarks/bench_relay.py
	$(BIN)/python benchmarks/bench_check.py
	$(BIN)/python benchmarks/bench_load.py

clean:
	rm -rf $(VENV) build dist *.egg-info
