"""A model's predictions on a stream of examples, and what the evaluate stage writes from them."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from starrec.datasets import batches
from starrec.metrics import MACRO_ROW, evaluation_report, one_vs_rest_curves

PER_CLASS_BARS = ("precision", "recall", "f1")


def predict_labels(
    model: keras.Model, examples: tf.data.Dataset, batch_size: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """(true labels, class probabilities) for every example, in order."""
    labels, probabilities = [], []
    for images, batch_labels in batches(examples, batch_size):
        probabilities.append(model(images, training=False).numpy())
        labels.append(batch_labels.numpy())
    if not labels:
        return np.zeros(0, np.int64), np.zeros((0, model.output_shape[-1]), np.float32)
    return np.concatenate(labels), np.concatenate(probabilities)


@dataclass(frozen=True)
class Evaluation:
    """metrics/test.json, metrics/predictions.csv and the plot data files, by name."""

    report: dict
    predictions: pd.DataFrame
    plots: dict[str, list[dict]]


def evaluate(labels: np.ndarray, probabilities: np.ndarray, ids, classes: list[str]) -> Evaluation:
    """The report, one prediction row per test image, and the data of each test plot.

    Plots: ``confusion`` (actual, predicted per image), ``per_class`` (precision,
    recall, f1 bars of each class), ``roc`` and ``precision_recall`` (one-vs-rest).
    """
    report = evaluation_report(labels, probabilities, classes)
    names = np.asarray(classes)
    predicted = probabilities.argmax(axis=1)
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
            for row in report["per_class"]
            if row["class"] != MACRO_ROW
            for metric in PER_CLASS_BARS
            if row[metric] is not None
        ],
        "roc": curves["roc"],
        "precision_recall": curves["precision_recall"],
    }
    return Evaluation(report, predictions, plots)
