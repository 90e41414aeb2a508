"""A model's class probabilities for a stream of examples (evaluate, the fold stages, calibration, tests) or
for images in memory."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from starrec.data.datasets import batches


def labels_and_probabilities(
    model: keras.Model, examples: tf.data.Dataset, batch_size: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """(true labels, class probabilities) for every example, in order."""
    labels, (probabilities,) = labels_and_outputs(model, [model.output], examples, batch_size)
    return labels, probabilities


def labels_and_outputs(
    model: keras.Model, outputs: list, examples: tf.data.Dataset, batch_size: int = 64
) -> tuple[np.ndarray, list[np.ndarray]]:
    """(true labels, each of ``outputs`` (tensors of ``model``'s graph) for every example), in one pass."""
    network = model if len(outputs) == 1 and outputs[0] is model.output else keras.Model(model.input, outputs)
    labels: list[np.ndarray] = []
    values: list[list[np.ndarray]] = [[] for _ in outputs]
    for images, batch_labels in batches(examples, batch_size):
        results = network(images, training=False)
        for kept, result in zip(values, results if isinstance(results, (list, tuple)) else [results], strict=True):
            kept.append(result.numpy())
        labels.append(batch_labels.numpy())
    if not labels:
        return np.zeros(0, np.int64), [np.zeros((0, output.shape[-1]), np.float32) for output in outputs]
    return np.concatenate(labels), [np.concatenate(kept) for kept in values]


def probabilities_of(model: keras.Model, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """The model's outputs for in-memory images, ``batch_size`` at a time (a whole array at once would hold
    every layer's activations of every image)."""
    outputs = [
        model(images[start : start + batch_size], training=False).numpy() for start in range(0, len(images), batch_size)
    ]
    return np.concatenate(outputs) if outputs else np.zeros((0, model.output_shape[-1]), np.float32)
