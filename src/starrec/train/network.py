"""The CNN: preprocessing, then conv/max-pool blocks, dense layers with dropout and L2."""

from __future__ import annotations

import keras

from starrec.params import ModelParams
from starrec.train.preprocess import GRAYSCALE, NormalizationStats, preprocessing_layers

LOGITS = "logits"
TEMPERATURE = "temperature"
"""The layer between the logits and the softmax: a Rescaling by 1 / T (absent in model files of starrec 0.2)."""


def build_model(
    image_size: int, num_classes: int, params: ModelParams, stats: NormalizationStats, precision: str = "float32"
) -> keras.Model:
    """Raw RGB (0-255) in, class probabilities out: softmax(logits / T), T = 1 until
    :func:`starrec.train.calibrate.with_temperature` sets it (the layer ``temperature`` holds 1 / T).

    ``precision`` is the Keras dtype policy of the conv and dense layers
    (``mixed_bfloat16``: bfloat16 maths, float32 weights); preprocessing and
    the softmax stay float32.
    """
    regularizer = keras.regularizers.L2(params.l2) if params.l2 > 0 else None
    inputs = keras.Input((image_size, image_size, 3), name="image")
    x = inputs
    for layer in preprocessing_layers(stats):
        x = layer(x)
    for number, filters in enumerate(params.conv_filters, start=1):
        x = keras.layers.Conv2D(
            filters, params.kernel_size, padding="same", activation="relu", name=f"conv_{number}", dtype=precision
        )(x)
        x = keras.layers.MaxPooling2D(name=f"pool_{number}", dtype=precision)(x)
    x = keras.layers.Flatten(name="flatten", dtype=precision)(x)
    for number, units in enumerate(params.dense_units, start=1):
        x = keras.layers.Dense(
            units, activation="relu", kernel_regularizer=regularizer, name=f"dense_{number}", dtype=precision
        )(x)
        if params.dropout > 0:
            x = keras.layers.Dropout(params.dropout, name=f"dropout_{number}", dtype=precision)(x)
    logits = keras.layers.Dense(num_classes, kernel_regularizer=regularizer, name=LOGITS, dtype=precision)(x)
    scaled = keras.layers.Rescaling(1.0, name=TEMPERATURE, dtype="float32")(logits)  # 1 / T once calibrated
    probabilities = keras.layers.Softmax(name="probabilities", dtype="float32")(scaled)
    return keras.Model(inputs, probabilities, name="starrec_cnn")


def logits_model(model: keras.Model) -> keras.Model:
    """The same network up to its ``logits`` layer (before the temperature and the softmax)."""
    return keras.Model(model.input, model.get_layer(LOGITS).output)


def conv_layer_names(model: keras.Model) -> list[str]:
    """Names of the network's convolution layers, input to output (not the fixed grayscale step)."""
    return [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D) and layer.name != GRAYSCALE]
