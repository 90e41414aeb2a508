"""The evaluate stage's files and the visualize stage's choice of mistakes, from arrays."""

import numpy as np
import pandas as pd
import pytest

from starrec.evaluation import evaluate
from starrec.visualize import misclassified


def test_evaluation_files_agree_with_each_other():
    labels = np.array([0, 0, 1, 1, 2])
    probabilities = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.3, 0.6, 0.1], [0.1, 0.1, 0.8]])
    result = evaluate(labels, probabilities, ["x0", "x1", "x2", "x3", "x4"], ["a", "b", "c"])
    assert result.report["accuracy"] == pytest.approx(0.8)
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
