"""The search and the learning curve as users run them: `dvc repro tune/dvc.yaml` in a copy of the project on tiny
data, then `dvc metrics show`, `dvc plots show` and `starrec tune apply`."""

import json

import pytest

from helpers.project import copy_project, run, stages_run
from starrec.params import load_params
from starrec.tune.results import holds

pytestmark = pytest.mark.e2e

TINY = {
    "seed": 3,
    "data": {"source": "synthetic", "synthetic_classes": 3, "synthetic_per_class": 20, "min_images_per_class": 5},
    "image": {"size": 16, "shard_size": 16},
    "model": {"conv_filters": [8], "dense_units": [16], "dropout": 0.0},
    "train": {"epochs": 4, "batch_size": 8},
    "runtime": {"backup_every_s": 0},
    "kfold": {"k": 2, "parts": [0, 1]},
    "tune": {"trials": 3},
    "learning_curve": {"fractions": [0.5, 1.0]},
}


def test_the_search_and_the_learning_curve_run_as_dvc_stages(tmp_path):
    repo = copy_project(tmp_path / "repo", TINY)
    output = run(repo, "dvc", "repro", "tune/dvc.yaml")
    ran = stages_run(output)
    assert {"download", "convert", "split"} <= ran and not {"train", "fold@0", "evaluate"} & ran  # only upstream
    assert {name.rsplit(":", 1)[-1] for name in ran} >= {"tune", "learning_curve"}
    tune = json.loads((repo / "metrics/tune.json").read_text())
    assert tune["trials"] == 3 and tune["k"] == 2 and tune["best_accuracy"] >= tune["first_accuracy"]
    assert set(tune["best_params"]) == {
        "train.momentum",
        "train.momentum_schedule.end",
        "train.momentum_schedule.rate",
        "train.learning_rate",
    }
    history = json.loads((repo / "metrics/tune/history.json").read_text())
    assert [row["trial"] for row in history] == [0, 1, 2] and history[-1]["best"] == tune["best_accuracy"]
    curve = json.loads((repo / "metrics/learning_curve.json").read_text())
    assert [point["fraction"] for point in curve["points"]] == [0.5, 1.0] and curve["line"].startswith(
        curve["diagnosis"]
    )
    shown = run(repo, "dvc", "metrics", "show", "metrics/tune.json", "metrics/learning_curve.json")  # by path
    assert "metrics/tune.json" in shown and "best_accuracy" in shown and "metrics/learning_curve.json" in shown
    run(repo, "dvc", "plots", "show", "-o", "plots_html")
    page = (repo / "plots_html" / "index.html").read_text()
    assert "Search history" in page and "Learning curve (K-fold accuracy by training-set size)" in page
    assert "Data and pipelines are up to date" in run(repo, "dvc", "repro", "tune/dvc.yaml")

    applied = run(repo, "starrec", "tune", "apply")
    assert holds(load_params(repo / "params.yaml"), tune["best_params"])
    changed = [line.split(":")[0] for line in applied.splitlines() if " -> " in line]
    if tune["best_trial"] == 0:  # the params it started from won
        assert "already holds the best trial's values" in applied and not changed
    else:
        diff = run(repo, "dvc", "params", "diff")
        assert changed and all(key in diff for key in changed)
