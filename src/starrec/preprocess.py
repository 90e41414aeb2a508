"""The one preprocessing path: RGB (0-255) -> optional grayscale -> normalise.

It lives inside the model as its first layers, so training, evaluation and
prediction cannot disagree: a saved ``model.keras`` takes raw RGB pixels.
The normalisation statistics come from the training split only.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
from keras import ops

LUMA = (0.2989, 0.5870, 0.1140)
"""Y = 0.2989 R + 0.5870 G + 0.1140 B (ITU-R BT.601, as tf.image.rgb_to_grayscale)."""


@keras.saving.register_keras_serializable(package="starrec")
class Grayscale(keras.layers.Layer):
    """RGB -> one luma channel: Y = 0.2989 R + 0.5870 G + 0.1140 B."""

    def call(self, inputs):
        return ops.sum(ops.multiply(inputs, ops.convert_to_tensor(LUMA, inputs.dtype)), axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 1)


def normalization_stats(images: np.ndarray, grayscale: bool) -> dict:
    """Per-channel mean and variance of ``images`` (N, h, w, 3 uint8), after grayscale if asked."""
    pixels = images.astype(np.float64)
    if grayscale:
        pixels = pixels @ np.asarray(LUMA)[:, None]
    channels = pixels.reshape(-1, pixels.shape[-1])
    return {
        "grayscale": bool(grayscale),
        "mean": channels.mean(axis=0).tolist(),
        "variance": np.maximum(channels.var(axis=0), 1e-6).tolist(),
    }


def preprocessing_layers(stats: dict) -> list[keras.layers.Layer]:
    """The layers that turn raw RGB pixels into the network's normalised input."""
    layers = [Grayscale(name="grayscale")] if stats["grayscale"] else []
    layers.append(keras.layers.Normalization(mean=stats["mean"], variance=stats["variance"], name="normalize"))
    return layers


def load_stats(path: str | Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))
