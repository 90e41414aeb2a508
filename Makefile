# make run: set up .venv if needed, then the whole DVC pipeline on the built-in data.
# make test: same set-up, then the test suite (make test-fast: the unit tests only). make lint: ruff check + format check, mypy on src/.
# make bench: speed/memory benchmark -> bench/results.json.
# TENSORFLOW=gpu (e.g. `make run TENSORFLOW=gpu`) installs the same TensorFlow with its CUDA libraries.
PYTHON ?= python3
TENSORFLOW ?= cpu
TENSORFLOW_VERSION := 2.21.0
TENSORFLOW_PACKAGE_cpu := tensorflow-cpu==$(TENSORFLOW_VERSION)
TENSORFLOW_PACKAGE_gpu := tensorflow[and-cuda]==$(TENSORFLOW_VERSION)
TENSORFLOW_PACKAGE := $(or $(TENSORFLOW_PACKAGE_$(TENSORFLOW)),$(error TENSORFLOW must be cpu or gpu, not $(TENSORFLOW)))
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed-$(TENSORFLOW)

.PHONY: setup run test test-fast lint format bench clean tensorflow-package

tensorflow-package:  # the pip requirement TENSORFLOW selects (tests check that it resolves)
	@echo '$(TENSORFLOW_PACKAGE)'

$(INSTALLED): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	if ls $(VENV)/.installed* 2>/dev/null | grep -qv '^$(INSTALLED)$$'; then \
		$(BIN)/python -m pip uninstall --quiet --yes tensorflow tensorflow-cpu; fi  # switching cpu <-> gpu
	$(BIN)/python -m pip install --quiet -r requirements.txt "$(TENSORFLOW_PACKAGE)"
	rm -f $(VENV)/.installed*
	touch $(INSTALLED)

setup: $(INSTALLED)

run: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" dvc repro
	$(BIN)/starrec summary

test: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest

test-fast: setup  # the unit tests, after each edit (make test runs everything, as CI does)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -m "not e2e and not slow"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/run.py --out bench/results.json

clean:
	rm -rf $(VENV)
