"""The CNN: preprocessing, then conv/max-pool blocks, dense layers with dropout and L2."""

from __future__ import annotations

import dataclasses
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import keras

from starrec import optim  # noqa: F401  (registers MomentumSGD for loading)
from starrec.atomic import atomic_path
from starrec.errors import MissingInput, StarrecError
from starrec.params import FacesParams, ModelParams
from starrec.preprocess import NormalizationStats, preprocessing_layers


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
    """Names of the model's convolution layers, input to output."""
    return [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


INFO_ENTRY = "starrec.json"
"""The entry of the ``.keras`` zip that holds :class:`ModelInfo` (Keras ignores it)."""
REBUILD = "rebuild it with `dvc repro -s train` or restore it with `dvc checkout models/model.keras`"


class ModelFileError(StarrecError, ValueError):
    """The model file is missing, damaged or not one of starrec's; the message says how to rebuild it."""


@dataclass(frozen=True)
class ModelInfo:
    """What a photo needs besides the network: the class names (output order) and the face
    crop used in training. Size, grayscale and normalisation are the model's own layers."""

    classes: list[str]
    faces: FacesParams


def parse_model_info(text: str | bytes) -> ModelInfo:
    """The :class:`ModelInfo` of its JSON (other keys are ignored); KeyError/TypeError/ValueError if invalid."""
    saved = json.loads(text)
    return ModelInfo(classes=list(saved["classes"]), faces=FacesParams(**saved["faces"]))


def save_model(model: keras.Model, info: ModelInfo, path: Path) -> None:
    """``model`` with ``info`` inside, as one ``.keras`` file written atomically: a model and
    its class names can never disagree."""
    with atomic_path(path) as temporary:
        model.save(temporary)
        with zipfile.ZipFile(temporary, "a") as bundle:
            bundle.writestr(INFO_ENTRY, json.dumps(dataclasses.asdict(info), indent=2))


def load_model(path) -> keras.Model:
    """Load a saved ``.keras`` model with starrec's custom layers and optimiser registered."""
    if not Path(path).is_file():
        raise MissingInput(f"{path}: no trained model; run `dvc repro` (or `make run`) first")
    try:
        return keras.saving.load_model(path)
    except (ValueError, OSError, KeyError, zipfile.BadZipFile) as error:
        raise ModelFileError(f"{path}: not a readable .keras model ({error}); {REBUILD}") from None


def load_model_info(path, model: keras.Model) -> ModelInfo:
    """The :class:`ModelInfo` saved in ``path``, checked against ``model``'s outputs."""
    try:
        with zipfile.ZipFile(path) as bundle:
            info = parse_model_info(bundle.read(INFO_ENTRY))
    except (KeyError, TypeError, ValueError, zipfile.BadZipFile) as error:
        raise ModelFileError(f"{path}: no valid {INFO_ENTRY} inside ({error}); {REBUILD}") from None
    if len(info.classes) != model.output_shape[-1]:
        raise ModelFileError(
            f"{path}: names {len(info.classes)} classes but the network has {model.output_shape[-1]} outputs; {REBUILD}"
        )
    return info
