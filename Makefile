# Two commands on a fresh machine with Python 3.10+ and make: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BROWSER_STAMP := $(VENV)/.installed-browser

.PHONY: run test test-browser install bench mutate clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(BROWSER_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,browser]'
	touch $(BROWSER_STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/mnist-tui $(ARGS)

# The suite runs in TEST_WORKERS pytest-xdist workers (tests use tmp paths, free ports and their own runs):
# two on this 2-core VM took 0.63-0.65x one process's time, back to back (benchmarks/results/test_suite.md).
# TEST_WORKERS= (empty) runs one process; more workers suit a machine with more cores.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -q $(if $(TEST_WORKERS),-n $(TEST_WORKERS)) $(PYTEST_ARGS)

# Mutation checks (mutmut) of the modules that guard data; not part of `make test` (tens of minutes on
# 2 cores). MUTANTS picks mutants by name (default: the functions behind benchmarks/results/mutation.md);
# MUTANTS= (empty) runs every mutant of the modules in pyproject's [tool.mutmut].
MUTANTS ?= "core.events*" "core.idx*" "core.export.x_epochs_csv*" "core.export.x_export*" \
	"core.runlog.x_atomic_write_bytes*" "core.runlog.x__fsync_dir*" "core.runlog.x_iter_records*" \
	"core.runlog.xǁRunLogǁ__call__*" "core.runlog.x_save_checkpoint*" "core.runlog.x_load_checkpoint*" \
	"core.engine.xǁTrainerǁ_flush_interval*" "core.engine.xǁTrainerǁ_check_finite*" \
	"core.engine.xǁTrainerǁ_advance*" "core.engine.xǁTrainerǁ_count_correct*"
mutate: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,mutate]'
	$(BIN)/mutmut run --max-children 2 $(MUTANTS)
	$(BIN)/python benchmarks/mutation_report.py --command "make mutate"

# `mnist-tui --serve` in headless Chromium; needs Debian's chromium + chromium-driver (.ci/run installs them)
test-browser: $(BROWSER_STAMP)
	MNIST_TUI_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -q tests/browser $(PYTEST_ARGS)

# PEER=path/to/pytorch-examples/mnist/main.py adds the tutorial peer to fast99 (see benchmarks/results/fast99-cpu.md)
PEER ?=
bench: $(STAMP)
	$(BIN)/python benchmarks/throughput.py
	$(BIN)/python benchmarks/time_to_accuracy.py
	$(BIN)/python benchmarks/fast99.py $(if $(PEER),--peer $(PEER))
	$(BIN)/python benchmarks/run_start.py
	$(BIN)/python benchmarks/first_frame.py
	$(BIN)/python benchmarks/app_overhead.py
	$(BIN)/python benchmarks/accuracy.py

clean:
	rm -rf $(VENV) .pytest_cache mutants
