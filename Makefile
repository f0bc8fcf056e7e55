# Two commands on a fresh machine with Python 3.10+ and make: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BROWSER_STAMP := $(VENV)/.installed-browser

.PHONY: run test test-browser install bench clean

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

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# `mnist-tui --serve` in headless Chromium; needs Debian's chromium + chromium-driver (.ci/run installs them)
test-browser: $(BROWSER_STAMP)
	MNIST_TUI_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -q tests/browser $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/throughput.py
	$(BIN)/python benchmarks/time_to_accuracy.py
	$(BIN)/python benchmarks/app_overhead.py
	$(BIN)/python benchmarks/accuracy.py

clean:
	rm -rf $(VENV) .pytest_cache
