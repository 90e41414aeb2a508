"""95 % confidence intervals of the test scores: how far the numbers of one test set can be trusted.

- accuracy, a proportion of n independent images: Wilson's score interval
  (scipy's ``binomtest(...).proportion_ci(method="wilson")``),

      center = (p + z^2 / 2n) / (1 + z^2 / n)
      half   = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2),   z = 1.96

- macro precision, recall and F1, which are not proportions: the percentile
  bootstrap over the test images (scipy's ``bootstrap``, paired resamples of
  (truth, prediction), ``evaluate.bootstrap_resamples`` of them, seeded).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest, bootstrap

CONFIDENCE = 0.95
MACRO_SCORES = ("precision_macro", "recall_macro", "f1_macro")
"""The bootstrapped scores, in the order of :func:`macro_scores`."""


def wilson_interval(successes: int, n: int) -> dict[str, float]:
    """Wilson's 95 % score interval of the proportion ``successes / n``."""
    interval = binomtest(successes, n).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return {"low": float(interval.low), "high": float(interval.high)}


def macro_scores(truth: np.ndarray, predicted: np.ndarray, num_classes: int, axis: int = -1) -> np.ndarray:
    """Macro precision, recall and F1 over the classes 0..num_classes-1 of each row of labels along ``axis``:
    (3, *rows). Per class c, from the counts tp_c, true_c = #(truth = c) and pred_c = #(predicted = c):
    precision_c = tp_c / pred_c, recall_c = tp_c / true_c, F1_c = 2 tp_c / (true_c + pred_c), 0 where
    undefined; each macro score is their mean (sklearn's ``precision_recall_fscore_support(labels=all,
    average="macro", zero_division=0)``, computed for every resample at once: the bootstrap's 3 x 1,000
    calls of sklearn took ~10 s a model whatever the data size)."""
    truth, predicted = np.moveaxis(truth, axis, -1), np.moveaxis(predicted, axis, -1)
    rows = truth.shape[:-1]
    cells = num_classes * num_classes
    codes = (truth * num_classes + predicted).reshape(-1, truth.shape[-1]).astype(np.int64)
    codes += np.arange(len(codes))[:, None] * cells
    confusion = np.bincount(codes.ravel(), minlength=len(codes) * cells).reshape(-1, num_classes, num_classes)
    hits = np.diagonal(confusion, axis1=1, axis2=2)
    true_counts, predicted_counts = confusion.sum(axis=2), confusion.sum(axis=1)
    per_class = [
        _ratio(hits, predicted_counts),
        _ratio(hits, true_counts),
        _ratio(2 * hits, true_counts + predicted_counts),
    ]
    return np.stack([score.mean(axis=-1).reshape(rows) for score in per_class])


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0."""
    return np.divide(numerator, denominator, out=np.zeros(numerator.shape), where=denominator != 0)


def bootstrap_intervals(
    truth: np.ndarray, predicted: np.ndarray, num_classes: int, resamples: int, seed: int
) -> dict[str, dict[str, float]]:
    """Percentile-bootstrap 95 % intervals of the macro scores (undefined class values count 0)."""
    result = bootstrap(
        (np.asarray(truth, np.int64), np.asarray(predicted, np.int64)),
        lambda t, p, axis=-1: macro_scores(t, p, num_classes, axis),
        paired=True,
        vectorized=True,
        n_resamples=resamples,
        confidence_level=CONFIDENCE,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return {name: {"low": float(low[row]), "high": float(high[row])} for row, name in enumerate(MACRO_SCORES)}


def score_intervals(truth: np.ndarray, predicted: np.ndarray, num_classes: int, resamples: int, seed: int) -> dict:
    """``ci95`` of metrics/test.json: accuracy (Wilson) and the macro scores (bootstrap)."""
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    return {
        "accuracy": wilson_interval(int(np.sum(truth == predicted)), len(truth)),
        **bootstrap_intervals(truth, predicted, num_classes, resamples, seed),
    }
