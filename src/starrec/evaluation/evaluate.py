"""What the evaluate stage writes from a model's predictions on the test split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from starrec.evaluation.intervals import score_intervals
from starrec.evaluation.metrics import MACRO_ROW, evaluation_report, one_vs_rest_curves

PER_CLASS_BARS = ("precision", "recall", "f1")
HEADLINE = ("accuracy", "f1_macro")
"""The scores of metrics/test.json (with their ``ci95``): what `dvc metrics show` puts in its few columns."""
MACRO_DETAIL = {"precision_macro": "precision", "recall_macro": "recall", "f1_macro": "f1"}
"""The other macro scores' intervals, by their name in the ``macro avg`` row of metrics/per_class.json."""


@dataclass(frozen=True)
class Evaluation:
    """metrics/test.json (the headline: :data:`HEADLINE` with intervals), metrics/per_class.json (the
    one-vs-rest table keyed by class name, and ``macro avg`` with every other test score and interval),
    metrics/predictions.csv and the plot data files, by name."""

    report: dict
    per_class: dict[str, dict]
    predictions: pd.DataFrame
    plots: dict[str, list[dict]]


def evaluate(
    labels: np.ndarray, probabilities: np.ndarray, ids, classes: list[str], resamples: int, seed: int
) -> Evaluation:
    """The headline (with ``ci95``: :mod:`starrec.evaluation.intervals`, ``resamples`` bootstrap resamples
    seeded by ``seed``), the per-class table, one prediction row per test image, and the data of each test plot.

    ``macro avg`` in the table holds what the headline leaves out: precision, recall, f1, roc_auc (one-vs-rest
    macro), ``f1_of_averages`` (the lecture's 2PR / (P + R) of the macro averages) and ``ci95`` of the first three.

    Plots: ``confusion`` (actual, predicted per image), ``per_class`` (precision,
    recall, f1 bars of each class), ``roc`` and ``precision_recall`` (one-vs-rest).
    """
    predicted = probabilities.argmax(axis=1)
    scores = evaluation_report(labels, probabilities, classes)
    intervals = score_intervals(labels, predicted, len(classes), resamples, seed)
    report = {
        "n_examples": scores["n_examples"],
        **{key: scores[key] for key in HEADLINE},
        **({"binary": scores["binary"]} if "binary" in scores else {}),
        "ci95": {key: intervals[key] for key in HEADLINE},
    }
    table = scores["per_class"]  # a list, which `dvc metrics show/diff` cannot see: keyed by class instead
    per_class = {row["class"]: {key: value for key, value in row.items() if key != "class"} for row in table}
    per_class[MACRO_ROW] |= {
        "f1_of_averages": scores["f1_of_macro_averages"],
        "ci95": {name: intervals[key] for key, name in MACRO_DETAIL.items()},
    }
    names = np.asarray(classes)
    predictions = pd.DataFrame(
        {
            "id": list(ids),
            "actual": names[labels],
            "predicted": names[predicted],
            "confidence": probabilities.max(axis=1).round(6),
        }
    )
    curves = one_vs_rest_curves(labels, probabilities, classes)
    plots = {
        "confusion": [{"actual": a, "predicted": p} for a, p in zip(names[labels], names[predicted])],
        "per_class": [
            {"class": row["class"], "metric": metric, "value": row[metric]}
            for row in table
            if row["class"] != MACRO_ROW
            for metric in PER_CLASS_BARS
            if row[metric] is not None
        ],
        "roc": curves["roc"],
        "precision_recall": curves["precision_recall"],
    }
    return Evaluation(report, per_class, predictions, plots)
