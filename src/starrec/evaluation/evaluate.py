"""What the evaluate stage writes from a model's predictions on the test split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from starrec.evaluation.calibration import (
    ece_interval,
    expected_calibration_error,
    reliability,
    risk_coverage,
    selective,
)
from starrec.evaluation.intervals import score_intervals, wilson_interval
from starrec.evaluation.metrics import MACRO_ROW, evaluation_report, one_vs_rest_curves
from starrec.train.calibrate import negative_log_likelihood, probabilities_at

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
    calibration: dict | None = None

    def summary(self) -> str:
        """The stage's line: accuracy and macro F1, and the calibration error at T = 1 and as served."""
        report = self.report
        line = f"test accuracy {report['accuracy']:.4f}, macro F1 {report['f1_macro']:.4f}"
        line += f" on {report['n_examples']} images"
        if self.calibration:
            before, temperature = report["ece_uncalibrated"], self.calibration["temperature"]
            line += f"; calibration error {before:.4f} at T = 1, {report['ece']:.4f} at T = {temperature:.3f}"
        return line


@dataclass(frozen=True)
class Calibration:
    """The test split's logits, the model's temperature T (its probabilities are softmax(logits / T)), the least
    top probability it answers with, and its probabilities of noise images."""

    logits: np.ndarray
    temperature: float
    bins: int
    min_confidence: float = 0.0
    noise: np.ndarray | None = None
    """The model's probabilities of :data:`starrec.evaluation.calibration.NOISE_IMAGES` noise images."""
    unknown: np.ndarray | None = None
    """Its probabilities of the photos of people in none of its classes (``data.unknown_source``)."""


def evaluate(
    labels: np.ndarray,
    probabilities: np.ndarray,
    ids,
    classes: list[str],
    resamples: int,
    seed: int,
    calibration: Calibration | None = None,
) -> Evaluation:
    """The headline (with ``ci95``: :mod:`starrec.evaluation.intervals`, ``resamples`` bootstrap resamples
    seeded by ``seed``), the per-class table, one prediction row per test image, and the data of each test plot.

    ``macro avg`` in the table holds what the headline leaves out: precision, recall, f1, roc_auc (one-vs-rest
    macro), ``f1_of_averages`` (the lecture's 2PR / (P + R) of the macro averages) and ``ci95`` of the first three.

    Plots: ``confusion`` (actual, predicted per image), ``per_class`` (precision,
    recall, f1 bars of each class), ``roc`` and ``precision_recall`` (one-vs-rest).

    With ``calibration``: ``ece`` (as served) and ``ece_uncalibrated`` (T = 1) in the headline,
    :attr:`Evaluation.calibration` (metrics/calibration.json) and the plots ``reliability`` and
    ``risk_coverage`` (:mod:`starrec.evaluation.calibration`).
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
    measured = calibration_of(labels, probabilities, calibration, resamples, seed) if calibration else None
    if measured:
        report |= {
            "ece": measured.report["ece"]["value"],
            "ece_uncalibrated": measured.report["ece_uncalibrated"]["value"],
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
        "confusion": [{"actual": a, "predicted": p} for a, p in zip(names[labels], names[predicted], strict=True)],
        "per_class": [
            {"class": row["class"], "metric": metric, "value": row[metric]}
            for row in table
            if row["class"] != MACRO_ROW
            for metric in PER_CLASS_BARS
            if row[metric] is not None
        ],
        "roc": curves["roc"],
        "precision_recall": curves["precision_recall"],
        **(measured.plots if measured else {}),
    }
    return Evaluation(report, per_class, predictions, plots, measured.report if measured else None)


@dataclass(frozen=True)
class _Measured:
    report: dict
    plots: dict[str, list[dict]]


def calibration_of(
    labels: np.ndarray, probabilities: np.ndarray, calibration: Calibration, resamples: int, seed: int
) -> _Measured:
    """metrics/calibration.json and the two plots: ECE (and NLL) as served and at T = 1, with intervals; the
    test split's coverage and error at the model's ``min_confidence``; the fraction of noise images refused, and of
    the photos of unknown people (with Wilson's interval) when there are any."""
    bins, temperature = calibration.bins, calibration.temperature
    uncalibrated = probabilities_at(calibration.logits, 1.0)
    served = f"as served (T = {temperature:.3f})"
    report = {
        "n_examples": len(labels),
        "temperature": temperature,
        "bins": bins,
        **{
            name: {
                "value": expected_calibration_error(scores, labels, bins),
                "ci95": ece_interval(scores, labels, bins, resamples, seed),
            }
            for name, scores in (("ece", probabilities), ("ece_uncalibrated", uncalibrated))
        },
        "nll": negative_log_likelihood(calibration.logits, labels, temperature),
        "nll_uncalibrated": negative_log_likelihood(calibration.logits, labels),
        "selective": selective(probabilities, labels, calibration.min_confidence),
    }
    if calibration.noise is not None:
        refused = calibration.noise.max(axis=1) < calibration.min_confidence
        report["noise"] = {"images": len(refused), "refused": float(refused.mean())}
    if calibration.unknown is not None:
        refused = calibration.unknown.max(axis=1) < calibration.min_confidence
        n, k = len(refused), int(refused.sum())
        report["unknown"] = {"images": n, "refused": {"value": k / n, "ci95": wilson_interval(k, n)}}
    diagonal = [{"confidence": edge, "accuracy": edge, "count": 0, "series": "perfect calibration"} for edge in (0, 1)]
    plots = {
        "reliability": [
            *diagonal,
            *({**row, "series": "uncalibrated (T = 1)"} for row in reliability(uncalibrated, labels, bins)),
            *({**row, "series": served} for row in reliability(probabilities, labels, bins)),
        ],
        "risk_coverage": [{**row, "series": served} for row in risk_coverage(probabilities, labels)],
    }
    return _Measured(report, plots)
