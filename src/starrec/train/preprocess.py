"""The one preprocessing path: RGB (0-255) -> optional grayscale -> normalise.

It lives inside the model as its first layers, so training, evaluation and
prediction cannot disagree: a saved ``model.keras`` takes raw RGB pixels.
The normalisation statistics come from the training split only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import keras
import numpy as np
from keras import ops

from starrec.atomic import write_json

if TYPE_CHECKING:  # the types only: the layers run through keras.ops
    import tensorflow as tf

LUMA = (0.2989, 0.5870, 0.1140)
"""Y = 0.2989 R + 0.5870 G + 0.1140 B (ITU-R BT.601, as tf.image.rgb_to_grayscale)."""

MIN_VARIANCE = 1e-6
"""A constant channel would divide by zero."""


GRAYSCALE = "grayscale"
"""The name of the model's grayscale layer: a fixed 1x1 convolution, not one of the network's."""


def grayscale_layer() -> keras.layers.Conv2D:
    """RGB -> one luma channel, Y = 0.2989 R + 0.5870 G + 0.1140 B, as a frozen 1x1 ``Conv2D``: a built-in
    layer, so that plain ``keras.saving.load_model`` opens the model file without starrec."""
    luma = keras.initializers.Constant(np.asarray(LUMA).reshape(1, 1, 3, 1).tolist())
    return keras.layers.Conv2D(1, 1, use_bias=False, kernel_initializer=luma, trainable=False, name=GRAYSCALE)


@keras.saving.register_keras_serializable(package="starrec")
class Grayscale(keras.layers.Layer):
    """RGB -> one luma channel: Y = 0.2989 R + 0.5870 G + 0.1140 B. Kept for model files of starrec 0.2 and
    earlier (:func:`grayscale_layer` replaces it)."""

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return ops.sum(ops.multiply(inputs, ops.convert_to_tensor(LUMA, inputs.dtype)), axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape[:-1], 1)


@dataclass(frozen=True)
class NormalizationStats:
    """The model's preprocessing: grayscale or not, then (x - mean) / sqrt(variance) per channel."""

    grayscale: bool
    mean: tuple[float, ...]
    variance: tuple[float, ...]

    def save(self, path: str | Path) -> None:
        write_json(path, asdict(self))

    @classmethod
    def load(cls, path: str | Path) -> NormalizationStats:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(bool(raw["grayscale"]), tuple(raw["mean"]), tuple(raw["variance"]))


def normalization_stats(batches: Iterable[np.ndarray], grayscale: bool) -> NormalizationStats:
    """Per-channel mean and variance over batches of (n, h, w, 3) uint8 images, in one pass.

    Sums of x and x^2 in float64: mean = S1 / N, variance = S2 / N - mean^2
    (exact enough for pixel values 0-255), after grayscale if asked.
    """
    count, total, squares = 0, np.zeros(1), np.zeros(1)
    for batch in batches:
        pixels = np.asarray(batch, dtype=np.float64)
        if grayscale:
            pixels = pixels @ np.asarray(LUMA)[:, None]
        channels = pixels.reshape(-1, pixels.shape[-1])
        count += len(channels)
        total = total + channels.sum(axis=0)
        squares = squares + np.square(channels).sum(axis=0)
    if count == 0:
        raise ValueError("normalization statistics of no images")
    mean = total / count
    variance = np.maximum(squares / count - np.square(mean), MIN_VARIANCE)
    return NormalizationStats(bool(grayscale), tuple(mean.tolist()), tuple(variance.tolist()))


def preprocessing_layers(stats: NormalizationStats) -> list[keras.layers.Layer]:
    """The layers that turn raw RGB pixels into the network's normalised input."""
    layers = [grayscale_layer()] if stats.grayscale else []
    layers.append(keras.layers.Normalization(mean=list(stats.mean), variance=list(stats.variance), name="normalize"))
    return layers
