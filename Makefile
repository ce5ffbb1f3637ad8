PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup test lint demo bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -c constraints-cpu.txt -e ".[dev,all]"
	touch $(STAMP)

setup: $(STAMP)

lint: setup
	$(BIN)/ruff check src tests benchmarks

test: setup lint
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup tests

demo: setup
	$(BIN)/raycurator demo --output demo_output

BENCHMARKS := bench_streaming bench_driver_memory bench_overhead compare_executors

bench: setup
	@missed=""; for b in $(BENCHMARKS); do \
		echo "== $$b"; $(BIN)/python benchmarks/$$b.py || missed="$$missed $$b"; done; \
	if [ -n "$$missed" ]; then echo "benchmarks that missed their target or failed:$$missed"; exit 1; fi; \
	echo "every benchmark met its target"

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info src/*.egg-info
