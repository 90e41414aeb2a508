"""A trained model in any of its formats, behind one interface (starrec predict and serve).

:func:`load_classifier` takes ``model.keras`` (Keras), a SavedModel folder (TensorFlow),
``*.onnx`` (onnxruntime) or ``*.tflite`` (LiteRT's interpreter). An export reads its class
names, face settings and image size from the ``starrec.json`` beside it (stage export), and is
refused unless its sha256 is the one recorded there (a changed or damaged export).
Every format maps raw RGB pixels, float32 0-255, (n, size, size, 3), to class probabilities.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from starrec.errors import MissingInput
from starrec.model_info import INFO_NAME, ModelFileError, ModelInfo, parse_export_info
from starrec.quiet import native_stderr_filtered

if TYPE_CHECKING:  # only for the types: importing Keras would load TensorFlow, which ONNX and LiteRT do not need
    import keras

REEXPORT = "rebuild it with `dvc repro -s export`"


@dataclass(frozen=True)
class Classifier:
    """``probabilities(images)`` of a model file; ``keras_model`` only for .keras (saliency needs gradients).
    Only a .keras model or a SavedModel imports TensorFlow: ONNX and LiteRT run without it (``starrec[serve]``)."""

    path: Path
    info: ModelInfo
    image_size: int
    probabilities: Callable[[np.ndarray], np.ndarray]
    keras_model: keras.Model | None = None


PIN = "STARREC_MODEL_SHA256"
"""A deployment's pin: the sha256 (:func:`export_digest`) the model must have. Without it, whoever can write
``models/export`` can swap a model and rewrite the digests in its starrec.json."""


def pinned_digest() -> str:
    """:data:`PIN` as 64 lower-case hex digits, or empty where it is unset; ModelFileError (one line, the value
    cut short) where it is set to anything else: a pin of spaces or a typo must not turn the check off."""
    raw = os.environ.get(PIN)
    if raw is None or raw == "":
        return ""
    pinned = raw.strip().lower()
    if len(pinned) != 64 or any(char not in "0123456789abcdef" for char in pinned):
        shown = raw if len(raw) <= 70 else f"{raw[:70]}... ({len(raw)} characters)"
        raise ModelFileError(f"{PIN}={shown!r}: not a sha256 (64 hex digits); unset it to serve unpinned")
    return pinned


def load_classifier(path: str | Path) -> Classifier:
    """The model at ``path`` in the runtime of its format; MissingInput or ModelFileError (one line) if it
    cannot be used, or if :data:`PIN` is set and the model's sha256 is another."""
    path = Path(path)
    pinned = pinned_digest()
    if pinned and path.exists() and (digest := export_digest(path)) != pinned:
        raise ModelFileError(f"{path}: its sha256 is {digest}, not {PIN}={pinned}; refused")
    if path.suffix == ".keras":
        from starrec.train.model_file import load_model, load_model_info

        model = load_model(path)
        return Classifier(path, load_model_info(path, model), int(model.input_shape[1]), _keras(model), model)
    if not path.exists():
        raise MissingInput(f"{path}: no exported model; run `dvc repro` (stage export) first")
    loaders = {".onnx": _onnx, ".tflite": _litert}
    if not (path.is_dir() or path.suffix in loaders):
        raise ModelFileError(f"{path}: not a .keras model, a SavedModel folder, an .onnx or a .tflite file")
    sidecar = path.parent / INFO_NAME
    try:
        exported = parse_export_info(sidecar.read_text(encoding="utf-8"))
        info, size, expected = exported.info, exported.image_size, exported.sha256[path.name]
    except (OSError, KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{sidecar}: missing or invalid ({error}); {REEXPORT}") from None
    if export_digest(path) != expected:
        raise ModelFileError(f"{path}: its sha256 is not the one {sidecar} recorded: changed since export; {REEXPORT}")
    runner = _saved_model(path) if path.is_dir() else loaders[path.suffix](path)
    outputs = runner(np.zeros((1, size, size, 3), np.float32)).shape[-1]
    if outputs != len(info.classes):
        raise ModelFileError(f"{path}: {outputs} outputs but {sidecar} names {len(info.classes)} classes; {REEXPORT}")
    return Classifier(path, info, size, runner)


def export_digest(path: Path) -> str:
    """sha256 of an export: of the file, or of a SavedModel folder's files (relative path and content, sorted)."""
    if path.is_file():
        with path.open("rb") as file:
            return hashlib.file_digest(file, "sha256").hexdigest()
    digest = hashlib.sha256()
    for member in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(member.relative_to(path).as_posix().encode() + b"\0" + export_digest(member).encode())
    return digest.hexdigest()


def _keras(model: keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    return lambda images: model(images, training=False).numpy()


def _saved_model(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(str(path))  # kept: its endpoint needs the object's variables
        loaded.serve  # noqa: B018  (an export without the endpoint fails here, not at the first photo)
    except (OSError, ValueError, AttributeError) as error:
        raise ModelFileError(f"{path}: not a readable SavedModel ({error}); {REEXPORT}") from None
    return lambda images: loaded.serve(tf.constant(images)).numpy()


def _onnx(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own untyped errors for a damaged file
        raise ModelFileError(f"{path}: not a readable ONNX model ({error}); {REEXPORT}") from None
    name = session.get_inputs()[0].name
    return lambda images: session.run(None, {name: images})[0]


def _litert(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    """LiteRT's interpreter, resized to each batch; one call at a time (it is not thread-safe)."""
    from ai_edge_litert.interpreter import Interpreter

    try:
        with native_stderr_filtered():  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
            interpreter = Interpreter(model_path=str(path))
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as error:
        raise ModelFileError(f"{path}: not a readable LiteRT model ({error}); {REEXPORT}") from None
    (source,), (target,) = interpreter.get_input_details(), interpreter.get_output_details()
    lock = threading.Lock()

    def run(images: np.ndarray) -> np.ndarray:
        with lock:
            interpreter.resize_tensor_input(source["index"], images.shape)
            interpreter.allocate_tensors()
            interpreter.set_tensor(source["index"], images)
            interpreter.invoke()
            return interpreter.get_tensor(target["index"]).copy()

    return run
