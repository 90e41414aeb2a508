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
from sklearn.metrics import precision_recall_fscore_support

CONFIDENCE = 0.95
MACRO_SCORES = {"precision_macro": 0, "recall_macro": 1, "f1_macro": 2}
"""Each bootstrapped score and its place in ``precision_recall_fscore_support``'s result."""


def wilson_interval(successes: int, n: int) -> dict[str, float]:
    """Wilson's 95 % score interval of the proportion ``successes / n``."""
    interval = binomtest(successes, n).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return {"low": float(interval.low), "high": float(interval.high)}


def bootstrap_intervals(
    truth: np.ndarray, predicted: np.ndarray, num_classes: int, resamples: int, seed: int
) -> dict[str, dict[str, float]]:
    """Percentile-bootstrap 95 % intervals of the macro scores (undefined class values count 0)."""
    labels = list(range(num_classes))
    intervals = {}
    for name, position in MACRO_SCORES.items():

        def statistic(t, p, position=position):
            scores = precision_recall_fscore_support(t, p, labels=labels, average="macro", zero_division=0.0)
            return scores[position]

        result = bootstrap(
            (truth, predicted),
            statistic,
            paired=True,
            vectorized=False,
            n_resamples=resamples,
            confidence_level=CONFIDENCE,
            method="percentile",
            random_state=np.random.default_rng(seed),
        )
        interval = result.confidence_interval
        intervals[name] = {"low": float(interval.low), "high": float(interval.high)}
    return intervals


def score_intervals(truth: np.ndarray, predicted: np.ndarray, num_classes: int, resamples: int, seed: int) -> dict:
    """``ci95`` of metrics/test.json: accuracy (Wilson) and the macro scores (bootstrap)."""
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    return {
        "accuracy": wilson_interval(int(np.sum(truth == predicted)), len(truth)),
        **bootstrap_intervals(truth, predicted, num_classes, resamples, seed),
    }
