# make run: set up .venv if needed, then the whole DVC pipeline on the built-in data.
# make test: same set-up, then the test suite. make lint: ruff check + format check.
# make bench: speed/memory benchmark -> bench/results.json.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: setup run test lint format bench clean

$(INSTALLED): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(INSTALLED)

setup: $(INSTALLED)

run: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" dvc repro
	$(BIN)/starrec summary

test: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/run.py --out bench/results.json

clean:
	rm -rf $(VENV)
