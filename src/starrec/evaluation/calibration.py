"""Do the probabilities mean what they say? Measured on the test split (docs/metrics.md: calibration).

- Expected calibration error over ``bins`` equal-width bins of the top-1 confidence c_i = max_k p_ik
  (Guo et al. 2017; Naeini et al. 2015):

      ECE = sum_b (n_b / N) * | acc_b - conf_b |  =  (1 / N) * sum_b | sum_{i in b} (correct_i - c_i) |

  with a percentile-bootstrap 95 % interval over the test images (``evaluate.bootstrap_resamples``).
- The reliability diagram: per non-empty bin, its mean confidence against its accuracy (the diagonal is
  perfect calibration).
- The risk-coverage curve (Geifman and El-Yaniv 2017): answer only the fraction ``coverage`` of the photos
  the model is surest of; ``risk`` is the error among those answered.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import bootstrap

from starrec.evaluation.intervals import CONFIDENCE, wilson_interval

NOISE_IMAGES = 200
"""Generated noise images shown to the model: the fraction it refuses ("not sure") is in the metrics."""
CURVE_POINTS = 200
"""At most this many points of the risk-coverage curve are written (evenly spaced in coverage)."""


def _bins(confidence: np.ndarray, bins: int) -> np.ndarray:
    """Each confidence's bin, 0..bins-1: [0, 1/bins), ..., [(bins-1)/bins, 1] (1.0 in the last)."""
    return np.minimum((np.asarray(confidence) * bins).astype(np.int64), bins - 1)


def _ece(confidence: np.ndarray, correct: np.ndarray, bins: int, axis: int = -1) -> np.ndarray:
    """ECE of each row along ``axis``, all rows at once (the bootstrap's resamples): one bincount of the
    rows' (correct - confidence) by (row, bin)."""
    confidence, correct = np.moveaxis(confidence, axis, -1), np.moveaxis(correct, axis, -1)
    rows, n = confidence.shape[:-1], confidence.shape[-1]
    index = _bins(confidence, bins).reshape(-1, n)
    index = index + np.arange(len(index))[:, None] * bins
    gaps = np.bincount(index.ravel(), (correct - confidence).ravel(), minlength=len(index) * bins)
    return np.abs(gaps.reshape(*rows, bins)).sum(axis=-1) / n


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int) -> float:
    """ECE of the top-1 confidences (the module's formula); 0.0 for no images."""
    if len(labels) == 0:
        return 0.0
    confidence, correct = _top1(probabilities, labels)
    return float(_ece(confidence, correct, bins))


def _top1(probabilities: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probabilities = np.asarray(probabilities, np.float64)
    return probabilities.max(axis=1), (probabilities.argmax(axis=1) == np.asarray(labels)).astype(np.float64)


def ece_interval(probabilities: np.ndarray, labels: np.ndarray, bins: int, resamples: int, seed: int) -> dict:
    """Percentile-bootstrap 95 % interval of the ECE, resampling (confidence, correct) pairs."""
    confidence, correct = _top1(probabilities, labels)
    if len(labels) < 2:
        value = float(_ece(confidence, correct, bins)) if len(labels) else 0.0
        return {"low": value, "high": value}
    result = bootstrap(
        (confidence, correct),
        lambda c, r, axis=-1: _ece(c, r, bins, axis),
        paired=True,
        vectorized=True,
        n_resamples=resamples,
        batch=100,
        confidence_level=CONFIDENCE,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    return {"low": float(result.confidence_interval.low), "high": float(result.confidence_interval.high)}


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int) -> list[dict]:
    """Per non-empty bin: its mean confidence, its accuracy and its number of images."""
    confidence, correct = _top1(probabilities, labels)
    index = _bins(confidence, bins)
    return [
        {
            "confidence": round(float(confidence[index == b].mean()), 6),
            "accuracy": round(float(correct[index == b].mean()), 6),
            "count": int(np.sum(index == b)),
        }
        for b in range(bins)
        if np.any(index == b)
    ]


def risk_coverage(probabilities: np.ndarray, labels: np.ndarray) -> list[dict]:
    """Answering the k surest of n photos (ties broken by position), for k = 1..n: coverage k / n, the
    error among them (risk) and the least confidence answered; at most :data:`CURVE_POINTS` rows."""
    confidence, correct = _top1(probabilities, labels)
    order = np.argsort(-confidence, kind="stable")
    errors = np.cumsum(1.0 - correct[order])
    answered = np.arange(1, len(order) + 1)
    keep = np.unique(np.linspace(0, len(order) - 1, min(len(order), CURVE_POINTS)).round().astype(np.int64))
    return [
        {
            "coverage": round(float(answered[k] / len(order)), 6),
            "risk": round(float(errors[k] / answered[k]), 6),
            "min_confidence": round(float(confidence[order][k]), 6),
        }
        for k in keep
    ]


def selective(probabilities: np.ndarray, labels: np.ndarray, min_confidence: float) -> dict:
    """Answering only photos whose top probability is at least ``min_confidence``: how many are answered,
    coverage = answered / n and risk = wrong / answered, each with Wilson's 95 % interval (risk: null if none
    is answered)."""
    confidence, correct = _top1(probabilities, labels)
    answered = confidence >= min_confidence
    n, k, wrong = len(labels), int(answered.sum()), int(np.sum(answered & (correct == 0)))
    return {
        "min_confidence": min_confidence,
        "answered": k,
        "coverage": {"value": k / n if n else 0.0, "ci95": wilson_interval(k, n) if n else None},
        "risk": {"value": wrong / k if k else None, "ci95": wilson_interval(wrong, k) if k else None},
    }


def noise_images(count: int, size: int, seed: int) -> np.ndarray:
    """``count`` images of uniform random RGB pixels (uint8), seeded: photos of no one."""
    return np.random.default_rng(seed).integers(0, 256, (count, size, size, 3), dtype=np.uint8)
