"""starrec report and the CLI around it on a real git + DVC repository made here, with hostile names."""

import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from conftest import ENV
from starrec.cli import main
from starrec.evaluation.runs import revision
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
    revision.cache_clear()
    yield repo
    revision.cache_clear()


def test_report_escapes_every_name_and_diffs_params_with_defaults(project, capsys):
    assert main(["report", "--baseline", BRANCH, "--out", "report"]) == 0
    page = (project / "report/report.html").read_text()
    assert "<svg" not in page and "<!--" not in page and "<script" not in page
    assert "<title>starrec report: workspace vs &lt;svg/onload=alert(1)&gt;</title>" in page
    assert page.count("&#60;svg/onload=alert(1)&#62;") >= 2  # heading, table header
    markdown = (project / "report/report.md").read_text()
    assert "| train.momentum | 0.9 | 0.5 |" in markdown
    assert "feature&#95;maps" not in markdown and "feature_maps" not in markdown  # a missing default is no change
    assert (project / "report/confusion.png").stat().st_size > 1000  # mathtext class names drawn, not parsed


def test_report_on_a_revision_whose_outputs_are_not_cached_says_so_in_one_line(project, capsys):
    assert main(["report", "--baseline", BRANCH, "--out", "report"]) == 0
    page = (project / "report/report.html").read_text()
    assert "No comparison: metrics/kfold.json: &#60;svg/onload=alert(1)&#62;&#39;s copy is not in the DVC cache" in page


def test_report_out_that_is_a_file_or_unwritable_is_one_line(project, capsys):
    (project / "taken").write_text("x")
    assert main(["report", "--baseline", BRANCH, "--out", "taken"]) == 1
    assert capsys.readouterr().err == "error: --out taken: is a file, not a folder; name a folder for the report\n"
    assert main(["report", "--baseline", BRANCH, "--out", "/dev/null/report"]) == 1
    assert capsys.readouterr().err == "error: /dev/null/report: Not a directory\n"
