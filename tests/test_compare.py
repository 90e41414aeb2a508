"""starrec compare on two runs made by hand (the e2e test runs it on real experiments)."""

import shutil

import pandas as pd
import pytest

from helpers.project import run
from starrec.errors import MissingInput
from starrec.evaluation.compare import NotComparable, compare
from starrec.evaluation.runs import RunResults, flatten, read_text

FOLDS_A = [0.91, 0.92, 0.93, 0.90, 0.94]  # tests/test_significance.py: t = 1.8856, p = 0.1324
FOLDS_B = [0.90, 0.90, 0.90, 0.90, 0.90]


def make_run(name, momentum, folds, right, folds_id="f1", k=5, ids=None):
    """A run whose 100 test images are right where ``right`` says (its first ``right`` images)."""
    ids = ids or [f"img{i}" for i in range(100)]
    predictions = pd.DataFrame(
        {"id": ids, "actual": ["a"] * 100, "predicted": ["a"] * right + ["b"] * (100 - right)}, dtype=str
    )
    kfold = {
        "k": k,
        "accuracy": {"mean": sum(folds) / len(folds), "std": 0.01},
        "f1_macro": {"mean": sum(folds) / len(folds), "std": 0.01},
        "folds": [{"fold": i, "n_test": 20, "accuracy": value, "f1_macro": value} for i, value in enumerate(folds)],
    }
    if folds_id is not None:
        kfold["folds_id"] = folds_id
    interval = {"low": right / 100 - 0.05, "high": right / 100 + 0.03}
    test = {"accuracy": right / 100, "f1_macro": right / 100, "ci95": {"accuracy": interval, "f1_macro": interval}}
    params = flatten({"seed": 1, "kfold": {"k": k}, "train": {"momentum": momentum}})
    return RunResults(name, params, kfold, test, predictions)


def test_compare_reports_both_paired_tests_and_a_verdict():
    # A right on the first 90 test images, B on the first 82: only A right on 8, only B on none.
    comparison = compare(make_run("fast", 0.9, FOLDS_A, right=90), make_run("slow", 0.0, FOLDS_B, right=82))
    ttest = comparison.folds["accuracy"]
    assert ttest.t == pytest.approx(1.8856181, abs=1e-7) and ttest.p == pytest.approx(0.1324189, abs=1e-7)
    assert (comparison.test.a_only, comparison.test.b_only) == (8, 0)
    assert comparison.test.p == pytest.approx(2 / 2**8)  # 2 P(X <= 0), X ~ Binomial(8, 1/2)
    assert comparison.verdict() == (
        "train.momentum 0.9 vs 0.0: +2.00 points accuracy over 5 folds, p = 0.132 (corrected t-test), "
        "not significant at 0.05; on the test images +8.00 points, p = 0.008 (McNemar), significant at 0.05"
    )
    report = comparison.report()
    assert report["params"] == {"train.momentum": {"a": 0.9, "b": 0.0}}
    assert report["test"]["mcnemar"] == {"a_only": 8, "b_only": 0, "p": pytest.approx(0.0078125)}
    assert comparison.lines()[0] == "A = fast, B = slow: the same 5 folds and the same 100 test images"


def test_compare_refuses_different_folds_or_test_images():
    a = make_run("k5", 0.9, FOLDS_A, right=90)
    with pytest.raises(NotComparable, match=r"k5 and k10 were cross-validated on different folds \(kfold.k differ\)"):
        compare(a, make_run("k10", 0.9, FOLDS_A, right=90, folds_id="f2", k=10))
    old = make_run("old", 0.0, FOLDS_B, right=90, folds_id=None)  # kfold.json made before folds_id existed
    with pytest.raises(NotComparable, match="old: its metrics/kfold.json has no folds_id; re-run its folds"):
        compare(old, make_run("older", 0.0, FOLDS_B, right=90, folds_id=None))
    other_images = [f"other{i}" for i in range(100)]
    with pytest.raises(NotComparable, match="tested on different test images"):
        compare(a, make_run("b", 0.0, FOLDS_B, right=90, ids=other_images))


def test_a_revisions_output_missing_from_the_cache_says_dvc_pull(tmp_path, monkeypatch):
    """A revision's DVC-tracked result whose copy this clone lacks asks for `dvc pull`, not a re-run."""
    run(tmp_path, "git", "init", "-q")
    run(tmp_path, "dvc", "init", "-q")
    run(tmp_path, "dvc", "stage", "add", "-q", "-n", "score", "-o", "kfold.json", "echo '{}' > kfold.json")
    run(tmp_path, "dvc", "repro", "-q")
    run(tmp_path, "git", "add", "-A")
    run(tmp_path, "git", "commit", "-qm", "a run")
    shutil.rmtree(tmp_path / ".dvc" / "cache")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MissingInput, match=r"^kfold.json: HEAD's copy is not in the DVC cache; `dvc pull`"):
        read_text("HEAD", "kfold.json")
    with pytest.raises(MissingInput, match=r"^other.json: not in HEAD; run `dvc repro`"):
        read_text("HEAD", "other.json")


def test_the_experiments_table_fits_a_terminal_and_marks_what_differs_significantly():
    """starrec experiments: dvc exp show --only-changed pushes the changed param into a … cell at 120 columns."""
    from starrec.evaluation.experiments import table

    baseline = make_run("main", 0.9, FOLDS_B, right=82)
    runs = [
        baseline,
        make_run("momentum-0.0", 0.0, FOLDS_A, right=90),
        make_run("momentum-0.5-long-name", 0.5, [0.95, 0.96, 0.97, 0.95, 0.96], right=95),
        make_run("other-folds", 0.5, FOLDS_A, right=90, folds_id="f2"),
    ]
    lines = table(runs, baseline)
    assert lines[0].split()[:2] == ["experiment", "train.momentum"] and max(map(len, lines)) <= 120
    rows = {line.split()[0]: line for line in lines[1:-1]}
    assert rows["main"].endswith("baseline") and "0.8200 [0.7700, 0.8500]" in rows["main"]
    assert rows["momentum-0.0"].endswith("+2.00 points, p = 0.132")  # as starrec compare says
    assert rows["momentum-0.5-long-name"].endswith(" *") and "0.9580 ± 0.0100" in rows["momentum-0.5-long-name"]
    assert rows["other-folds"].endswith("other folds: not paired")
