"""The tests' fixtures (a headless browser, tiny params, tiny images) and their order; helpers are in
tests/helpers/."""

from __future__ import annotations

import os

import pytest

from helpers.data import make_tiny_arrays, make_tiny_params

LONGEST_FIRST = (
    "test_pipeline_e2e.py",
    "test_small_data_e2e.py",
    "test_tune.py",
    "test_serve.py",
    "test_distribute.py",
    "test_install.py",
    "test_export.py",
    "test_tune_e2e.py",
)
"""The files that take longest, in that order (`make test`'s durations on 2 cores: 440 s, 220 s, 105 s,
68 s, 57 s, 55 s, 40 s, 32 s; every other file takes less than 30 s)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest files first: `make test` hands whole files to its workers in collection order
    (``--no-loadscope-reorder``: pytest-xdist would otherwise order them by their number of tests), so none of
    them is left running alone at the end (each file's own tests keep their order)."""
    rank = {name: number for number, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture
def browser():
    """A real headless Chromium (Debian's chromium + chromium-driver) driven by Selenium.

    Without them, the test is skipped with the reason, except in CI (CI set), where
    .ci/run installs them and a missing browser fails."""
    from serving import chromium_driver

    driver = chromium_driver()
    if driver is None:
        message = "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def tiny_params():
    return make_tiny_params()


@pytest.fixture
def tiny_arrays():
    return make_tiny_arrays()
