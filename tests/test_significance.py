"""The two paired tests of starrec compare, pinned to values computed by hand."""

import math

import numpy as np
import pytest
from scipy.stats import ttest_rel

from starrec.evaluation.significance import corrected_resampled_ttest, mcnemar

A = [0.91, 0.92, 0.93, 0.90, 0.94]
B = [0.90, 0.90, 0.90, 0.90, 0.90]
# d = [0.01, 0.02, 0.03, 0.00, 0.04]: mean 0.02, s^2 = (1 + 0 + 1 + 4 + 4) 1e-4 / 4 = 2.5e-4;
# 5 folds of 20 of 100 examples: n_test / n_train = 20 / 80, so
# t = 0.02 / sqrt((1/5 + 1/4) * 2.5e-4) = 0.02 / sqrt(1.125e-4) = 1.885618...
T_BY_HAND = 0.02 / math.sqrt(1.125e-4)


def student_p_4_df(t: float) -> float:
    """Two-sided p of Student's t with 4 degrees of freedom, in closed form:
    p = 1 - 3x/2 + x^3/2 with x = t / sqrt(t^2 + 4)."""
    x = abs(t) / math.sqrt(t * t + 4)
    return 1 - 1.5 * x + 0.5 * x**3


def test_corrected_resampled_ttest_matches_the_hand_computed_example():
    result = corrected_resampled_ttest(A, B, n_test=[20] * 5, n_total=100)
    assert result.difference == pytest.approx(0.02)
    assert result.t == pytest.approx(T_BY_HAND, rel=1e-12)
    assert result.t == pytest.approx(1.8856181, abs=1e-7)
    assert result.p == pytest.approx(student_p_4_df(T_BY_HAND), rel=1e-9)
    assert result.p == pytest.approx(0.1324189, abs=1e-7)
    assert result.folds == 5


def test_the_correction_only_widens_the_plain_paired_ttest():
    plain = ttest_rel(A, B)
    uncorrected = corrected_resampled_ttest(A, B, n_test=[0] * 5, n_total=100)
    assert uncorrected.t == pytest.approx(plain.statistic) and uncorrected.p == pytest.approx(plain.pvalue)
    corrected = corrected_resampled_ttest(A, B, n_test=[20] * 5, n_total=100)
    # the variance grows by (1/5 + 1/4) / (1/5): t shrinks by its square root
    assert corrected.t == pytest.approx(plain.statistic / math.sqrt(0.45 / 0.2))
    assert corrected.p > plain.pvalue


def test_ttest_sign_and_degenerate_cases():
    assert corrected_resampled_ttest(B, A, [20] * 5, 100).t == pytest.approx(-T_BY_HAND)
    same = corrected_resampled_ttest(A, A, [20] * 5, 100)
    assert (same.difference, same.p) == (0.0, 1.0)
    shifted = corrected_resampled_ttest(np.add(B, 0.01), B, [20] * 5, 100)  # every fold +1 point: no noise at all
    assert shifted.p == 0.0 and shifted.t == math.inf
    with pytest.raises(ValueError, match="same J >= 2 folds"):
        corrected_resampled_ttest(A, B[:4], [20] * 5, 100)


def test_mcnemar_exact_matches_the_binomial_by_hand():
    # 100 images: both right on 80, both wrong on 10, only A right on 9, only B right on 1.
    a = np.array([True] * 80 + [False] * 10 + [True] * 9 + [False] * 1)
    b = np.array([True] * 80 + [False] * 10 + [False] * 9 + [True] * 1)
    result = mcnemar(a, b)
    assert (result.a_only, result.b_only) == (9, 1)
    # p = 2 P(X <= 1), X ~ Binomial(10, 1/2) = 2 (1 + 10) / 1024
    assert result.p == pytest.approx(22 / 1024, rel=1e-12)
    assert mcnemar(b, a).p == result.p
    assert mcnemar(a, a).p == 1.0
    # 5 against 5 discordant images: as balanced as can be
    assert mcnemar([True] * 5 + [False] * 5, [False] * 5 + [True] * 5).p == 1.0
    with pytest.raises(ValueError, match="same images"):
        mcnemar(a, b[:-1])
