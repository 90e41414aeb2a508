"""The evaluate stage's files and the visualize stage's choice of mistakes, from arrays."""

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, precision_recall_fscore_support

from helpers.project import run
from starrec.app.cli import main
from starrec.atomic import write_json
from starrec.evaluation.evaluate import evaluate
from starrec.evaluation.intervals import bootstrap_intervals, macro_scores, wilson_interval
from starrec.evaluation.visualize import misclassified


def test_evaluation_files_agree_with_each_other():
    labels = np.array([0, 0, 1, 1, 2])
    probabilities = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.3, 0.6, 0.1], [0.1, 0.1, 0.8]])
    result = evaluate(labels, probabilities, ["x0", "x1", "x2", "x3", "x4"], ["a", "b", "c"], 200, 0)
    assert result.report["accuracy"] == pytest.approx(0.8)
    assert result.report["ci95"]["accuracy"] == wilson_interval(4, 5)
    assert result.predictions.to_dict("list") == {
        "id": ["x0", "x1", "x2", "x3", "x4"],
        "actual": ["a", "a", "b", "b", "c"],
        "predicted": ["a", "b", "b", "b", "c"],
        "confidence": [0.9, 0.7, 0.8, 0.6, 0.8],
    }
    assert result.plots["confusion"][1] == {"actual": "a", "predicted": "b"}
    bars = {(row["class"], row["metric"]): row["value"] for row in result.plots["per_class"]}
    assert set(bars) == {(c, m) for c in "abc" for m in ("precision", "recall", "f1")}  # no macro avg bar
    assert bars[("b", "precision")] == pytest.approx(2 / 3) and bars[("a", "recall")] == 0.5
    assert {row["class"] for row in result.plots["roc"]} == {"a", "b", "c"}
    assert list(result.per_class) == ["a", "b", "c", "macro avg"] and "per_class" not in result.report
    assert result.per_class["b"]["precision"] == pytest.approx(2 / 3) and result.per_class["a"]["tp"] == 1
    assert result.per_class["macro avg"]["f1"] == pytest.approx(result.report["f1_macro"])


def test_the_headline_holds_accuracy_and_macro_f1_and_the_macro_row_every_other_score():
    """`dvc metrics show` reads test.json: a few columns; per_class.json's macro avg keeps the rest."""
    labels = np.array([0, 0, 1, 1, 2, 2])
    probabilities = np.eye(3)[[0, 1, 1, 1, 2, 0]]
    result = evaluate(labels, probabilities, list("uvwxyz"), ["a", "b", "c"], 200, 0)
    assert set(result.report) == {"n_examples", "accuracy", "f1_macro", "ci95"}
    assert set(result.report["ci95"]) == {"accuracy", "f1_macro"}
    macro = result.per_class["macro avg"]
    precision, recall, f1, _ = precision_recall_fscore_support(labels, probabilities.argmax(axis=1), average="macro")
    assert (macro["precision"], macro["recall"], macro["f1"]) == pytest.approx((precision, recall, f1))
    assert macro["f1_of_averages"] == pytest.approx(2 * precision * recall / (precision + recall))
    assert set(macro["ci95"]) == {"precision", "recall", "f1"}
    assert macro["ci95"]["f1"] == result.report["ci95"]["f1_macro"]


def test_mistakes_are_the_first_wrong_predictions_found_by_id():
    predictions = pd.DataFrame(
        {
            "id": ["p", "q", "r", "s"],
            "actual": ["a", "b", "a", "b"],
            "predicted": ["a", "a", "b", "a"],
            "confidence": [0.9, 0.55, 0.8, 0.6],
        }
    )
    positions, captions = misclassified(predictions, np.array(["s", "r", "q", "p"]), limit=2)
    assert positions.tolist() == [2, 1]
    assert captions == ["true b\npred a (55%)", "true a\npred b (80%)"]


def wilson_by_hand(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    center = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return center - half, center + half


@pytest.mark.parametrize("k, n", [(8, 10), (353, 359), (0, 12), (12, 12)])
def test_wilson_interval_of_accuracy_is_the_formula(k, n):
    interval = wilson_interval(k, n)
    assert (interval["low"], interval["high"]) == pytest.approx(wilson_by_hand(k, n), abs=1e-12)


def test_wilson_interval_of_eight_out_of_ten():
    assert wilson_interval(8, 10) == pytest.approx({"low": 0.4902, "high": 0.9433}, abs=5e-5)  # the textbook values


@pytest.mark.parametrize("classes", [1, 2, 3, 9, 40])
def test_macro_scores_of_every_resample_are_sklearns(classes):
    rng = np.random.default_rng(classes)
    truth = rng.integers(0, classes, (6, 50))
    predicted = np.where(rng.random((6, 50)) < 0.7, truth, rng.integers(0, max(1, classes - 2), (6, 50)))
    truth[0] = 0  # one class only in the truth of the first row
    scores = macro_scores(truth, predicted, classes)
    assert scores.shape == (3, 6)
    for row in range(6):
        expected = precision_recall_fscore_support(
            truth[row], predicted[row], labels=list(range(classes)), average="macro", zero_division=0.0
        )[:3]
        assert scores[:, row].tolist() == [float(value) for value in expected]  # exact: the same sums
    assert macro_scores(truth.T, predicted.T, classes, axis=0).tolist() == scores.tolist()


def test_bootstrap_intervals_hold_the_score_are_seeded_and_shrink_with_more_images():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 3, 300)
    predicted = np.where(rng.random(300) < 0.85, truth, (truth + 1) % 3)
    small = bootstrap_intervals(truth[:75], predicted[:75], 3, 500, seed=3)
    large = bootstrap_intervals(truth, predicted, 3, 500, seed=3)
    assert large == bootstrap_intervals(truth, predicted, 3, 500, seed=3)
    assert large != bootstrap_intervals(truth, predicted, 3, 500, seed=4)
    f1 = f1_score(truth, predicted, average="macro")
    assert large["f1_macro"]["low"] < f1 < large["f1_macro"]["high"]
    for name in ("precision_macro", "recall_macro", "f1_macro"):
        assert large[name]["high"] - large[name]["low"] < small[name]["high"] - small[name]["low"]
    assert bootstrap_intervals(truth, truth, 3, 200, seed=0)["f1_macro"] == {"low": 1.0, "high": 1.0}


def test_summary_shows_the_test_scores_with_their_intervals(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    interval = {"low": 0.5, "high": 0.875}
    test = {"n_examples": 8, "accuracy": 0.75, "f1_macro": 0.7, "ci95": {"accuracy": interval, "f1_macro": interval}}
    write_json(tmp_path / "metrics/test.json", test)
    fold = {"mean": 0.8, "std": 0.1}
    write_json(tmp_path / "metrics/kfold.json", {"k": 2, "accuracy": fold, "f1_macro": fold})
    assert main(["summary"]) == 0
    assert capsys.readouterr().out == (
        "test: accuracy 0.7500 [0.5000, 0.8750], macro F1 0.7000 [0.5000, 0.8750] (8 images; 95 % intervals)\n"
        "2-fold: accuracy 0.8000 ± 0.1000, macro F1 0.8000 ± 0.1000\n"
    )


def test_summary_says_whether_this_run_lies_inside_the_committed_runs_intervals(tmp_path, monkeypatch, capsys):
    """A fresh clone's `make run` on another CPU: its scores against the committed run's, in one line."""
    monkeypatch.chdir(tmp_path)
    run(tmp_path, "git", "init", "-q")
    run(tmp_path, "dvc", "init", "-q")
    interval = {"low": 0.9, "high": 0.95}
    committed = {
        "n_examples": 8,
        "accuracy": 0.92,
        "f1_macro": 0.91,
        "ci95": {"accuracy": interval, "f1_macro": interval},
    }
    write_json(tmp_path / "metrics/test.json", committed)
    write_json(tmp_path / "metrics/train_machine.json", {"cpu": "Intel Xeon (AMX)", "precision": "mixed_bfloat16"})
    run(tmp_path, "git", "add", "-A")
    run(tmp_path, "git", "commit", "-qm", "a run")

    def committed_line() -> str:
        assert main(["summary"]) == 0
        return capsys.readouterr().out.splitlines()[1]

    assert committed_line() == "committed run (HEAD): the same test scores"
    write_json(tmp_path / "metrics/test.json", committed | {"accuracy": 0.94, "f1_macro": 0.8})
    write_json(tmp_path / "metrics/train_machine.json", {"cpu": "AMD EPYC (AVX2)", "precision": "float32"})
    assert committed_line() == (
        "committed run (HEAD, trained on Intel Xeon (AMX) in mixed_bfloat16; this one on AMD EPYC (AVX2) in "
        "float32): accuracy inside [0.9000, 0.9500], macro F1 OUTSIDE [0.9000, 0.9500] of its 95 % intervals"
    )
