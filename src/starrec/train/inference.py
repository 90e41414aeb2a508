"""A model's class probabilities for a stream of examples (evaluate, the fold stages, tests)."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from starrec.data.datasets import batches


def labels_and_probabilities(
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
