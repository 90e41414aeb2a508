"""The model file: a Keras ``.keras`` zip with :class:`ModelInfo` (class names, face settings) inside as
``starrec.json``, written atomically; loading it names what to run when it is missing or damaged."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import keras

from starrec import artifacts
from starrec.atomic import atomic_path
from starrec.errors import MissingInput
from starrec.model_info import INFO_NAME, ModelFileError, ModelInfo, parse_model_info
from starrec.train import optim, preprocess  # noqa: F401  (register MomentumSGD and Grayscale: older model files)

REBUILD = f"rebuild it with `dvc repro -s train` or restore it with `dvc checkout {artifacts.MODEL}`"


ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
"""The date of every entry of a saved model (zip's earliest): the bytes do not depend on when it was saved."""


def save_model(model: keras.Model, info: ModelInfo, path: Path) -> None:
    """``model`` with ``info`` inside, as one ``.keras`` file written atomically: a model and its class
    names can never disagree. The same weights give the same bytes (:func:`_reproducible`), so DVC sees
    an unchanged model and does not rerun the stages after it."""
    with atomic_path(path) as temporary:
        _layers_and_weights(model).save(temporary)
        _reproducible(temporary, info)


def _layers_and_weights(model: keras.Model) -> keras.Model:
    """``model`` not compiled: no optimizer (a backup keeps its own to resume), so the file names no class of
    ours and plain ``keras.saving.load_model`` opens it."""
    copy = type(model).from_config(model.get_config())  # clone_model would compile it again
    copy.set_weights(model.get_weights())
    return copy


def _reproducible(path: Path, info: ModelInfo) -> None:
    """Rewrite Keras's zip with ``info`` added, every entry dated :data:`ZIP_EPOCH`, no ``date_saved`` in
    metadata.json, and config.json's ``shared_object_id`` values (Python ``id()``s: new in every process)
    numbered 1, 2, ... in order of appearance (Keras only matches them with each other when loading)."""
    with zipfile.ZipFile(path) as bundle:
        entries = [(entry, bundle.read(entry)) for entry in bundle.infolist()]
    with zipfile.ZipFile(path, "w") as bundle:
        for entry, data in entries:
            if entry.filename == "metadata.json":
                metadata = {key: value for key, value in json.loads(data).items() if key != "date_saved"}
                data = json.dumps(metadata).encode()
            elif entry.filename == "config.json":
                data = json.dumps(_renumbered(json.loads(data), {})).encode()
            bundle.writestr(zipfile.ZipInfo(entry.filename, ZIP_EPOCH), data, compress_type=entry.compress_type)
        bundle.writestr(zipfile.ZipInfo(INFO_NAME, ZIP_EPOCH), info.to_json(), compress_type=zipfile.ZIP_STORED)


def _renumbered(node, numbers: dict[int, int]):
    """``node`` with each ``shared_object_id`` replaced by its number in ``numbers`` (new ids get the next)."""
    if isinstance(node, dict):
        if "shared_object_id" in node:
            node["shared_object_id"] = numbers.setdefault(node["shared_object_id"], len(numbers) + 1)
        for value in node.values():
            _renumbered(value, numbers)
    elif isinstance(node, list):
        for value in node:
            _renumbered(value, numbers)
    return node


def load_model(path: str | Path) -> keras.Model:
    """Load a saved ``.keras`` model with starrec's custom layers and optimiser registered."""
    if not Path(path).is_file():
        raise MissingInput(f"{path}: no trained model; run `dvc repro` (or `make run`) first")
    try:
        return keras.saving.load_model(path)
    except (ValueError, OSError, KeyError, zipfile.BadZipFile) as error:
        raise ModelFileError(f"{path}: not a readable .keras model ({error}); {REBUILD}") from None


def load_model_info(path: str | Path, model: keras.Model) -> ModelInfo:
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
