"""The model file: a Keras ``.keras`` zip with :class:`ModelInfo` (class names, face settings) inside as
``starrec.json``, written atomically; loading it names what to run when it is missing or damaged."""

from __future__ import annotations

import dataclasses
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import keras

from starrec.atomic import atomic_path
from starrec.errors import MissingInput, StarrecError
from starrec.params import FacesParams
from starrec.train import optim, preprocess  # noqa: F401  (register MomentumSGD and Grayscale for loading)

INFO_NAME = "starrec.json"
"""The entry of the ``.keras`` zip that holds :class:`ModelInfo` (Keras ignores it), and the file beside
the exports (stage export) that holds it with their image size and checksums."""
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
            bundle.writestr(INFO_NAME, json.dumps(dataclasses.asdict(info), indent=2))


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
            info = parse_model_info(bundle.read(INFO_NAME))
    except (KeyError, TypeError, ValueError, zipfile.BadZipFile) as error:
        raise ModelFileError(f"{path}: no valid {INFO_NAME} inside ({error}); {REBUILD}") from None
    if len(info.classes) != model.output_shape[-1]:
        raise ModelFileError(
            f"{path}: names {len(info.classes)} classes but the network has {model.output_shape[-1]} outputs; {REBUILD}"
        )
    return info
