"""The CNN: preprocessing, then conv/max-pool blocks, dense layers with dropout and L2."""

from __future__ import annotations

import keras

from starrec.params import ModelParams
from starrec.train.preprocess import GRAYSCALE, NormalizationStats, preprocessing_layers


def build_model(
    image_size: int, num_classes: int, params: ModelParams, stats: NormalizationStats, precision: str = "float32"
) -> keras.Model:
    """Raw RGB (0-255) in, class probabilities out; the layer before softmax is ``logits``.

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
    logits = keras.layers.Dense(num_classes, kernel_regularizer=regularizer, name="logits", dtype=precision)(x)
    probabilities = keras.layers.Softmax(name="probabilities", dtype="float32")(logits)
    return keras.Model(inputs, probabilities, name="starrec_cnn")


def conv_layer_names(model: keras.Model) -> list[str]:
    """Names of the network's convolution layers, input to output (not the fixed grayscale step)."""
    return [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D) and layer.name != GRAYSCALE]
