"""Temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks"): one scalar T > 0,
fitted on the validation split by its negative log-likelihood, divides the logits before the softmax,

    p = softmax(z / T),    T = argmin_T  mean_i [ logsumexp(z_i / T) - z_{i, y_i} / T ],

so that a probability of 0.8 is right about 80 % of the time. T changes no prediction (the arg max of z / T
is the arg max of z), only how sure the model says it is. It lives in the model (the ``temperature`` layer
holds 1 / T), so predict, serve and every export apply it. The test split never sees it fitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp, softmax

from starrec.params import CalibrationParams
from starrec.train.inference import labels_and_probabilities
from starrec.train.network import TEMPERATURE, logits_model

BOUNDS = (0.05, 20.0)
"""The temperatures searched: from 20x sharper to 20x flatter than the logits as trained."""


def probabilities_at(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """softmax(logits / T), row by row, in float64."""
    return softmax(np.asarray(logits, np.float64) / temperature, axis=1)


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """mean_i [ logsumexp(z_i / T) - z_{i, y_i} / T ]: the cross-entropy of softmax(z / T)."""
    scaled = np.asarray(logits, np.float64) / temperature
    return float(np.mean(logsumexp(scaled, axis=1) - scaled[np.arange(len(labels)), labels]))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T of least validation NLL in :data:`BOUNDS` (scipy's bounded Brent search over log T); 1.0 for
    no images. A validation split the model gets all right with ever more confidence drives T to the lower
    bound: few images say little, so a small split fits a rough T."""
    if len(labels) == 0:
        return 1.0
    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(logits, labels, float(np.exp(log_t))),
        bounds=tuple(np.log(BOUNDS)),
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(np.exp(result.x))


@dataclass(frozen=True)
class Calibrated:
    """The model with its temperature, and the least top probability it answers with."""

    model: keras.Model
    temperature: float
    min_confidence: float
    n_validation: int

    def summary(self) -> str:
        return (
            f"calibration: temperature {self.temperature:.3f}, min_confidence {self.min_confidence:.4f}"
            f" (on {self.n_validation} validation images)"
        )


def calibrate(model: keras.Model, examples: tf.data.Dataset, params: CalibrationParams) -> Calibrated:
    """``model`` with the temperature fitted on ``examples`` (T = 1 with ``temperature: false`` or none), and
    ``min_confidence`` (``auto``: :func:`min_confidence_for` ``target_error`` on their probabilities)."""
    labels, logits = labels_and_probabilities(logits_model(model), examples)
    temperature = fit_temperature(logits, labels) if params.temperature else 1.0
    threshold = params.min_confidence
    if threshold == "auto":
        threshold = min_confidence_for(probabilities_at(logits, temperature), labels, params.target_error)
    return Calibrated(with_temperature(model, temperature), temperature, float(threshold), len(labels))


def min_confidence_for(probabilities: np.ndarray, labels: np.ndarray, target_error: float) -> float:
    """The least top probability t such that the photos answered (top probability >= t) have an error of at
    most ``target_error``: the largest coverage that meets it (Geifman and El-Yaniv 2017, on validation).
    0.0 (answer all) for no images; above every confidence (answer none) if even the surest is wrong."""
    if len(labels) == 0:
        return 0.0
    confidence = probabilities.max(axis=1)
    order = np.argsort(-confidence, kind="stable")
    wrong = np.cumsum(probabilities.argmax(axis=1)[order] != labels[order])
    sorted_confidence = confidence[order]
    meets = wrong <= target_error * np.arange(1, len(order) + 1)
    # a threshold answers every photo of that confidence: only the last of a run of ties can be the cut
    last_of_tie = np.append(sorted_confidence[1:] < sorted_confidence[:-1], True)
    candidates = np.flatnonzero(meets & last_of_tie)
    if not len(candidates):
        return float(np.nextafter(sorted_confidence[0], np.inf)) if sorted_confidence[0] < 1 else 1.0
    return float(sorted_confidence[candidates[-1]])


def with_temperature(model: keras.Model, temperature: float) -> keras.Model:
    """``model`` rebuilt with its ``temperature`` layer dividing the logits by ``temperature``, same weights."""
    config = model.get_config()
    (layer,) = [layer for layer in config["layers"] if layer["config"]["name"] == TEMPERATURE]
    layer["config"]["scale"] = 1.0 / temperature
    calibrated = type(model).from_config(config)
    calibrated.set_weights(model.get_weights())
    return calibrated


def temperature_of(model: keras.Model) -> float:
    """The model's T (1.0 for a model file without the layer: starrec 0.2 and earlier)."""
    try:
        return 1.0 / float(model.get_layer(TEMPERATURE).scale)
    except ValueError:
        return 1.0
