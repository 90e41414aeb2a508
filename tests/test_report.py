"""starrec report and the CLI around it on a real git + DVC repository made here, with hostile names."""

import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from helpers.project import ENV
from starrec.app.cli import main
from starrec.params import render_params_yaml

pytestmark = pytest.mark.slow  # real processes, services or conversions: make test, not make test-fast

BRANCH = "<svg/onload=alert(1)>"  # a valid git branch name
CLASSES = ["$\\foo_{$", "<!--<script>", "NA"]  # mathtext, HTML and pandas' missing value


def git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=ENV)


def write_results(repo, classes):
    (repo / "data/interim").mkdir(parents=True, exist_ok=True)
    (repo / "data/interim/classes.json").write_text(json.dumps(classes))
    (repo / "metrics").mkdir(exist_ok=True)
    rows = [
        {"id": f"{c}/{i}.png", "actual": c, "predicted": classes[(n + i) % len(classes)], "confidence": 0.5}
        for n, c in enumerate(classes)
        for i in range(3)
    ]
    pd.DataFrame(rows).to_csv(repo / "metrics/predictions.csv", index=False)
    scores = {"accuracy": 1 / 3, "f1_macro": 1 / 3}
    interval = {"low": 0.1, "high": 0.7}
    test = {**scores, "n_examples": len(rows), "ci95": {"accuracy": interval, "f1_macro": interval}}
    (repo / "metrics/test.json").write_text(json.dumps(test))
    folds = [{"fold": i, "n_test": 5, **scores} for i in range(2)]
    summary = {"mean": 1 / 3, "std": 0.0}
    kfold = {"k": 2, "folds_id": "f", "accuracy": summary, "f1_macro": summary, "folds": folds}
    (repo / "metrics/kfold.json").write_text(json.dumps(kfold))


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A repository whose branch BRANCH has the default params.yaml without ``visualize.feature_maps``
    (a key an older version did not have) and DVC-tracked metrics whose cache is gone; the workspace
    has train.momentum 0.5 and results whose class names are hostile."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=repo, check=True, env=ENV)
    old = "".join(line for line in render_params_yaml().splitlines(True) if "feature_maps" not in line)
    (repo / "params.yaml").write_text(old)
    (repo / "metrics").mkdir()
    (repo / "metrics/test.json").write_text('{"accuracy": 0.5}')
    subprocess.run([sys.executable, "-m", "dvc", "add", "-q", "metrics"], cwd=repo, check=True, env=ENV)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "baseline")
    git(repo, "branch", BRANCH)
    shutil.rmtree(repo / ".dvc/cache")
    shutil.rmtree(repo / "metrics")
    git(repo, "rm", "-q", "metrics.dvc")
    params = yaml.safe_load(render_params_yaml())
    params["train"]["momentum"] = 0.5
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    write_results(repo, CLASSES)
    monkeypatch.chdir(repo)
    return repo


def test_report_escapes_every_name_and_diffs_params_with_defaults(project, capsys):
    assert main(["report", "--against", BRANCH, "--out", "report"]) == 0
    page = (project / "report/report.html").read_text()
    assert "<svg" not in page and "<!--" not in page and "<script" not in page
    assert "<title>starrec report: workspace vs &lt;svg/onload=alert(1)&gt;</title>" in page
    assert page.count("&#60;svg/onload=alert(1)&#62;") >= 2  # heading, table header
    markdown = (project / "report/report.md").read_text()
    assert "| train.momentum | 0.9 | 0.5 |" in markdown
    assert "feature&#95;maps" not in markdown and "feature_maps" not in markdown  # a missing default is no change
    assert (project / "report/confusion.png").stat().st_size > 1000  # mathtext class names drawn, not parsed


def test_report_on_a_revision_whose_outputs_are_not_cached_says_so_in_one_line(project, capsys):
    assert main(["report", "--against", BRANCH, "--out", "report"]) == 0
    page = (project / "report/report.html").read_text()
    assert "No comparison: metrics/kfold.json: &#60;svg/onload=alert(1)&#62;&#39;s copy is not in the DVC cache" in page


def test_report_out_that_is_a_file_or_unwritable_is_one_line(project, capsys):
    (project / "taken").write_text("x")
    assert main(["report", "--against", BRANCH, "--out", "taken"]) == 1
    assert capsys.readouterr().err == "error: --out taken: is a file, not a folder; name a folder for the report\n"
    assert main(["report", "--against", BRANCH, "--out", "/dev/null/report"]) == 1
    assert capsys.readouterr().err == "error: /dev/null/report: Not a directory\n"


def test_report_shows_the_search_and_the_learning_curve_once_they_ran(project):
    assert main(["report", "--baseline", BRANCH, "--out", "before"]) == 0  # 0.2's name of --against
    assert "Search and learning curve" not in (project / "before/report.md").read_text()
    best = {"train.momentum": 0.95, "train.learning_rate": 0.01}
    tune = {"k": 2, "best_accuracy": 0.9, "best_trial": 1, "best_params": best, "first_accuracy": 0.8}
    tune |= {"trials": 3, "pruned": 1, "caveat": "optimistic: the best of 3 K-fold scores is biased upwards"}
    (project / "metrics/tune.json").write_text(json.dumps(tune))
    (project / "metrics/tune").mkdir()
    history = [
        {"trial": 0, "accuracy": 0.8, "best": 0.8, "state": "complete"},
        {"trial": 1, "accuracy": 0.9, "best": 0.9, "state": "complete"},
        {"trial": 2, "accuracy": 0.5, "best": 0.9, "state": "pruned"},
    ]
    (project / "metrics/tune/history.json").write_text(json.dumps(history))
    importance = [{"param": "train.momentum", "importance": 0.7}, {"param": "train.learning_rate", "importance": 0.3}]
    (project / "metrics/tune/importance.json").write_text(json.dumps(importance))
    point = {"n_train": 10.0, "train": {"mean": 1.0, "std": 0.0}, "validation": {"mean": 0.7, "std": 0.1}}
    curve = {"k": 2, "points": [point, {**point, "n_train": 20.0}], "line": "high variance: <b>gap</b> +0.300."}
    (project / "metrics/learning_curve.json").write_text(json.dumps(curve))
    assert main(["report", "--against", BRANCH, "--out", "after"]) == 0
    page = (project / "after/report.md").read_text()
    assert "## Search and learning curve (workspace)" in page
    assert "best 2-fold accuracy 0.9000 (trial 1 of 3, 1 pruned" in page and "optimistic" in page
    assert "starrec tune apply" in page and "high variance: &#60;b&#62;gap&#60;/b&#62; +0.300." in page
    for chart in ("search.png", "importance.png", "size_curve.png"):
        assert (project / "after" / chart).stat().st_size > 1000 and f"]({chart})" in page
    assert "<b>gap" not in (project / "after/report.html").read_text()
