"""Is the difference between two models larger than the noise? Two paired tests.

- Over the K folds (both models trained and tested on the same folds), the corrected
  resampled t-test of Nadeau & Bengio (2003). The folds' training sets overlap, so the
  plain paired t-test is far too confident; the correction widens the variance:

      d_j = a_j - b_j  (j = 1..J folds),   mean d,   s^2 = sum (d_j - mean d)^2 / (J - 1)
      t = mean d / sqrt((1/J + n_test/n_train) * s^2),   two-sided p from Student's t, J - 1 df

  (for K-fold, n_test/n_train = 1/(K - 1); without that term it is scipy's ``ttest_rel``).

- On one test set, McNemar's exact test on the paired predictions: of the images exactly one
  model gets right, A alone is right on b and B alone on c; under "equally good" b is
  Binomial(b + c, 1/2), and p = min(1, 2 P(X <= min(b, c))) (scipy's ``binomtest``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest
from scipy.stats import t as student_t


@dataclass(frozen=True)
class TTest:
    """The corrected resampled t-test of per-fold differences a - b."""

    difference: float
    t: float
    p: float
    folds: int


def corrected_resampled_ttest(a, b, n_test, n_total: int) -> TTest:
    """Nadeau & Bengio's test of the paired fold scores ``a`` and ``b``; fold j tested
    ``n_test[j]`` of ``n_total`` examples and trained on the rest."""
    a, b, n_test = (np.asarray(values, dtype=float) for values in (a, b, n_test))
    if not len(a) == len(b) == len(n_test) >= 2:
        raise ValueError(f"the t-test needs the same J >= 2 folds on both sides, not {len(a)} and {len(b)}")
    differences = a - b
    folds = len(differences)
    mean = float(differences.mean())
    variance = float(differences.var(ddof=1)) * (1 / folds + float(np.mean(n_test / (n_total - n_test))))
    if variance == 0:
        return TTest(mean, 0.0 if mean == 0 else float(np.copysign(np.inf, mean)), 1.0 if mean == 0 else 0.0, folds)
    t = mean / np.sqrt(variance)
    return TTest(mean, float(t), float(2 * student_t.sf(abs(t), folds - 1)), folds)


@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test: ``a_only`` images only A got right, ``b_only`` only B."""

    a_only: int
    b_only: int
    p: float


def mcnemar(a_correct, b_correct) -> McNemar:
    """McNemar's exact test of two models' right/wrong on the same images, in the same order."""
    a_correct, b_correct = np.asarray(a_correct, dtype=bool), np.asarray(b_correct, dtype=bool)
    if a_correct.shape != b_correct.shape:
        raise ValueError(f"McNemar needs the same images on both sides, not {len(a_correct)} and {len(b_correct)}")
    a_only, b_only = int(np.sum(a_correct & ~b_correct)), int(np.sum(b_correct & ~a_correct))
    p = 1.0 if a_only + b_only == 0 else float(binomtest(a_only, a_only + b_only, 0.5).pvalue)
    return McNemar(a_only, b_only, p)
