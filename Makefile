# make run: set up .venv if needed, then the whole DVC pipeline on the built-in data. make tune: the search by
# K-fold and the learning curve (tune/dvc.yaml), then `starrec tune apply` and make run for the test score.
# make test: same set-up, then the test suite (make test-fast: the unit tests only). make lint: ruff check + format check, mypy
# on src/ and stages/. make deps: each stage's code deps and params written into dvc.yaml and tune/dvc.yaml (tools/stage_deps.py).
# make bench: speed/memory benchmark -> bench/results.json.
# TENSORFLOW=gpu (e.g. `make run TENSORFLOW=gpu`) installs the same TensorFlow with its CUDA libraries.
# make lock: requirements/{cpu,gpu,serve}.txt anew from pyproject.toml (uv; today's versions kept, UPGRADE=--upgrade
# for the newest), each one universal lock for Linux x86_64/aarch64 and macOS arm64, Python 3.11-3.13 (the gpu lock:
# Linux only); make setup installs requirements.txt (the cpu lock; TENSORFLOW=gpu: requirements/gpu.txt) with pip's
# hash checking, in a venv of the first Python 3.11-3.13 it finds (PYTHON=... to choose; tools/find_python.sh).
# make test-other-cpu: the fast tier as the other CPU kind behaves (oneDNN flipped, auto's precision pinned).
TENSORFLOW ?= cpu
LOCKS := cpu gpu serve
VARIANT := $(or $(filter $(TENSORFLOW),cpu gpu),$(error TENSORFLOW must be cpu or gpu, not $(TENSORFLOW)))
ifeq ($(VARIANT)-$(shell uname -s),gpu-Darwin)
$(error TENSORFLOW=gpu needs Linux with an NVIDIA GPU (CUDA); on macOS use the default, TENSORFLOW=cpu)
endif
# requirements.txt (the design card's) is `-r requirements/cpu.txt`, so pip users and make install the same lock
LOCK := $(if $(filter cpu,$(VARIANT)),requirements.txt,requirements/$(VARIANT).txt)
LOCK_DIR ?= requirements
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed-$(TENSORFLOW)

.PHONY: setup run tune test test-fast test-other-cpu lint format deps bench clean lock plots-template

$(INSTALLED): $(LOCK) requirements/$(VARIANT).txt pyproject.toml
	test -x $(BIN)/python || { python=$$(PYTHON=$(PYTHON) sh tools/find_python.sh) && $$python -m venv $(VENV); }
	if ls $(VENV)/.installed* 2>/dev/null | grep -qv '^$(INSTALLED)$$'; then \
		$(BIN)/python -m pip uninstall --quiet --yes tensorflow tensorflow-cpu; fi  # switching cpu <-> gpu
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .  # setuptools comes from the lock
	rm -f $(VENV)/.installed*
	touch $(INSTALLED)

lock: setup  # the extras of each lock: cpu/gpu = everything with that TensorFlow, serve = the lean service
	for lock in $(LOCKS); do \
		case $$lock in serve) extras="--extra serve";; *) extras="--extra pipeline --extra $$lock --extra dev";; esac; \
		$(BIN)/uv pip compile pyproject.toml $$extras $(UPGRADE) --quiet --generate-hashes --no-header \
			--python-version 3.11 --universal \
			--output-file $(LOCK_DIR)/$$lock.txt || exit 1; \
	done

setup: $(INSTALLED)

run: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" dvc repro
	$(BIN)/starrec summary

tune: setup  # the search and the learning curve (tune/dvc.yaml; docs/tuning.md): long, so not part of run
	PATH="$(CURDIR)/$(BIN):$$PATH" dvc repro tune/dvc.yaml
	$(BIN)/starrec summary

TEST_WORKERS ?= 2
test: setup  # TEST_WORKERS test files at a time (pytest-xdist; 0: one process), longest first (tests/conftest.py)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test-fast: setup  # the unit tests, after each edit (make test runs everything, as CI does), test by test on the workers
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not e2e and not slow"

test-other-cpu: setup  # CI runs it after make test: a test that holds only on this CPU kind fails here
	@kind=$$($(BIN)/python -m starrec.hardware --other-kind) && echo "make test-other-cpu: $$kind" && \
		env $$kind $(MAKE) --no-print-directory test-fast

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

deps: setup  # each stage's code deps and params in dvc.yaml and tune/dvc.yaml, as its script reads them
	$(BIN)/python tools/stage_deps.py --write

bench: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/run.py --out bench/results.json

VEGA := vega@5.33.1 vega-lite@5.23.0 vega-embed@6.29.0  # the majors dvc-render's CDN tags name (vega 5, vega-lite 5, embed 6)
plots-template:  # .dvc/plots-offline.html anew from the npm builds (committed: a fresh clone draws offline)
	rm -rf .cache/npm && mkdir -p .cache/npm
	cd .cache/npm && for package in $(VEGA); do \
		name=$${package%@*}; file=$$(npm pack --silent $$package) && mkdir $$name && tar xzf $$file -C $$name --strip-components=1 || exit 1; \
	done
	$(or $(PYTHON),python3) tools/offline_plots.py .cache/npm

clean:
	rm -rf $(VENV)
