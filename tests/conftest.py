"""Shared test helpers: tiny images, tiny params, a repo root."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from serving import free_port as free_port  # re-exported: the tests' one free port
from starrec.params import Params, parse_params, render_params_yaml

ROOT = Path(__file__).resolve().parents[1]


ENV = {
    **os.environ,
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@t",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@t",
    "DVC_NO_ANALYTICS": "1",
}
"""Commands of the tests: this venv first, a git identity for commits and `dvc exp run`."""

COMMITTED_RESULTS = ("metrics/",)
"""The results that main's own run committed to git (``cache: false``): a test's repo makes its own."""

LONGEST_FIRST = ("test_pipeline_e2e.py", "test_small_data_e2e.py", "test_serve.py", "test_distribute.py")
"""The files that take longest (several minutes each on 2 cores), in that order."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest files first: `make test` hands whole files to its workers in collection order, so none of
    them is left running alone at the end (each file's own tests keep their order)."""
    rank = {name: number for number, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def run(repo: Path, *command: str) -> str:
    """``command`` in ``repo``; its output, or the test fails with it."""
    done = subprocess.run(command, cwd=repo, env=ENV, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def stages_run(output: str) -> set[str]:
    """The stages that a dvc repro / exp run output says it ran."""
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")}


def copy_project(repo: Path, overrides: dict) -> Path:
    """A new git repository at ``repo`` with the project's files (those git would add) and a params.yaml
    of the schema's defaults with ``overrides`` ({section: {key: value}} or {key: value}), rendered as the
    project writes it, committed. The user's working params.yaml, dvc.lock files and results are not used."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    for name in listed.stdout.splitlines():
        if Path(name).name == "dvc.lock" or name == "params.yaml" or name.startswith(COMMITTED_RESULTS):
            continue
        if not (ROOT / name).is_file():
            continue
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, repo / name)
    params = dataclasses.asdict(Params())
    for section, values in overrides.items():
        params[section] = {**params[section], **values} if isinstance(values, dict) else values
    (repo / "params.yaml").write_text(render_params_yaml(parse_params(params)), encoding="utf-8")
    run(repo, "git", "init", "-q")
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-qm", "project")
    return repo


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


def save_image(path: Path, pixels: np.ndarray, **save_args) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, **save_args)
    return path


def labels_from_confusion(matrix) -> tuple[np.ndarray, np.ndarray]:
    """Expand a confusion matrix (rows true, columns predicted) into label arrays."""
    truth, predicted = [], []
    for actual, row in enumerate(matrix):
        for guess, count in enumerate(row):
            truth += [actual] * count
            predicted += [guess] * count
    return np.asarray(truth), np.asarray(predicted)


@pytest.fixture
def tiny_params():
    return make_tiny_params()


def make_tiny_params():
    """Params for fast training: 16x16 images, small net, few epochs, float32 whatever the CPU.

    ``train.precision: auto`` would pick bfloat16 on a CPU with it and change every exact number; a test of a
    precision sets it (``precisions`` parametrises over both: TensorFlow emulates bfloat16 where the CPU lacks it).
    """
    return parse_params(
        {
            "seed": 7,
            "image": {"size": 16},
            "model": {"conv_filters": [4], "dense_units": [8], "dropout": 0.0},
            "train": {"epochs": 2, "batch_size": 8, "learning_rate": 0.01, "precision": "float32"},
            "augment": {"copies": 1},
            "kfold": {"k": 2},
        }
    )


def from_arrays(images: np.ndarray, labels: np.ndarray, ids=None):
    """Parsed-example dicts from in-memory arrays (the structure of records.read_records).

    ``ids`` default to the example's position as a string.
    """
    import tensorflow as tf

    if ids is None:
        ids = tf.strings.as_string(tf.range(len(labels), dtype=tf.int64))
    else:
        ids = tf.constant([str(i) for i in ids])
    return tf.data.Dataset.from_tensor_slices({"image": images, "label": labels, "id": ids})


def fit_arrays(params, images, labels, **options):
    """Train on in-memory arrays with ``params`` (statistics from the images); returns (model, history)."""
    from starrec.train.preprocess import normalization_stats
    from starrec.train.training import RunOptions, TrainingData, fit

    stats = normalization_stats([images], params.augment.grayscale)
    val_examples, data_id = options.pop("val_examples", None), options.pop("data_id", "")
    data = TrainingData(from_arrays(images, labels), len(labels), 3, stats, val_examples, data_id)
    return fit(
        data,
        params.model,
        params.train,
        params.seed,
        RunOptions(**{"verbose": 0, "runtime": params.runtime, **options}),
    )


def read_arrays(directory: Path, image_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every example of a records directory as arrays (images, labels, ids): small test data only."""
    from starrec.data.records import read_records

    examples = list(read_records(directory, image_size).as_numpy_iterator())
    return (
        np.stack([e["image"] for e in examples]),
        np.asarray([e["label"] for e in examples], dtype=np.int64),
        np.asarray([e["id"].decode() for e in examples], dtype=object),
    )


def replace(params, section: str, **changes):
    """A copy of ``params`` with ``changes`` applied to one section."""
    return dataclasses.replace(params, **{section: dataclasses.replace(getattr(params, section), **changes)})


@pytest.fixture
def tiny_arrays():
    return make_tiny_arrays()


def make_tiny_arrays():
    """24 RGB 16x16 images of 3 learnable classes (synthetic stripes)."""
    from starrec.data.download import synthetic_image

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 8)
    images = np.stack([synthetic_image(int(c), 3, rng, size=16) for c in labels])
    return images, labels.astype(np.int64)
