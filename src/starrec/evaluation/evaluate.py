"""What the evaluate stage writes from a model's predictions on the test split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from starrec.evaluation.intervals import score_intervals
from starrec.evaluation.metrics import MACRO_ROW, evaluation_report, one_vs_rest_curves

PER_CLASS_BARS = ("precision", "recall", "f1")


@dataclass(frozen=True)
class Evaluation:
    """metrics/test.json (headline scores), metrics/per_class.json (the one-vs-rest table keyed by class
    name, and ``macro avg``), metrics/predictions.csv and the plot data files, by name."""

    report: dict
    per_class: dict[str, dict]
    predictions: pd.DataFrame
    plots: dict[str, list[dict]]


def evaluate(
    labels: np.ndarray, probabilities: np.ndarray, ids, classes: list[str], resamples: int, seed: int
) -> Evaluation:
    """The report (with ``ci95``: :mod:`starrec.evaluation.intervals`, ``resamples`` bootstrap resamples
    seeded by ``seed``), one prediction row per test image, and the data of each test plot.

    Plots: ``confusion`` (actual, predicted per image), ``per_class`` (precision,
    recall, f1 bars of each class), ``roc`` and ``precision_recall`` (one-vs-rest).
    """
    predicted = probabilities.argmax(axis=1)
    report = {
        **evaluation_report(labels, probabilities, classes),
        "ci95": score_intervals(labels, predicted, len(classes), resamples, seed),
    }
    table = report.pop("per_class")  # a list, which `dvc metrics show/diff` cannot see: keyed by class instead
    per_class = {row["class"]: {key: value for key, value in row.items() if key != "class"} for row in table}
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
