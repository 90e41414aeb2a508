"""Portable copies of the trained model (stage export), each checked against Keras.

    models/export/saved_model/   TensorFlow SavedModel (endpoint ``serve``)
    models/export/model.onnx     ONNX
    models/export/model.tflite   LiteRT (TFLite)
    models/export/model.dynamic.tflite or model.int8.tflite   with ``export.quantize``: LiteRT with int8
                                 weights (dynamic range), or int8 weights and activations calibrated on
                                 training images; measured, not checked (its answers differ by design)
    models/export/starrec.json   class names and face settings (as inside model.keras), image size,
                                 and each export's sha256 (checked whenever one is loaded)

Each is written by Keras's own ``model.export`` from one float32 copy of the trained network,
and takes what the .keras model takes: raw RGB pixels, float32 0-255, shape (batch, size,
size, 3), grayscale and normalisation inside; it returns the class probabilities.

The float32 copy: mixed-precision layers compute in float32 (which every runtime runs on any
CPU), and the Normalization layer (x - mean) / sqrt(variance) becomes the equal
Rescaling x * s - mean * s with s = 1 / sqrt(variance): Keras keeps Normalization's statistics
as captured tensors, which the ONNX converter turns into extra model inputs, while Rescaling's
are constants. :func:`check_exports` runs every export with its own runtime and requires its
probabilities to match the float32 copy's within ``TOLERANCE``.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from starrec.atomic import atomic_path
from starrec.errors import StarrecError
from starrec.model_info import INFO_NAME, ExportInfo, ModelInfo
from starrec.quiet import native_stderr_filtered
from starrec.ship.classifiers import export_digest, load_classifier

FORMATS = {"saved_model": "tf_saved_model", "model.onnx": "onnx", "model.tflite": "litert"}
"""Each export's name in models/export and its ``model.export`` format."""
TOLERANCE = 1e-4
QUANTIZED = {"dynamic": "model.dynamic.tflite", "int8": "model.int8.tflite"}
"""The quantised LiteRT model's name for each ``export.quantize``."""


class ExportMismatch(StarrecError, ValueError):
    """An export's probabilities differ from the Keras model's by more than the tolerance."""


def float32_copy(model: keras.Model) -> keras.Model:
    """The same network with float32 layers and Normalization as Rescaling, the trained weights."""

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, keras.layers.Normalization):
            scale = 1 / np.sqrt(np.asarray(layer.input_variance, np.float64))
            offset = -np.asarray(layer.input_mean, np.float64) * scale
            return keras.layers.Rescaling(scale.tolist(), offset.tolist(), name=layer.name, dtype="float32")
        return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def export_model(
    model: keras.Model,
    info: ModelInfo,
    out: Path,
    images: np.ndarray,
    quantize: str = "none",
    calibration: np.ndarray | None = None,
) -> tuple[keras.Model, Checked]:
    """Write every format and ``starrec.json`` (with each export's sha256) to ``out``, all or nothing: each
    is checked (:func:`check_exports` on ``images``) before the folder is moved into place, so an export
    that fails leaves the previous one as it was. With ``quantize`` (dynamic, int8: calibrated on the
    ``calibration`` images), also the quantised LiteRT model. Returns the float32 copy and what was checked."""
    copy = float32_copy(model)
    with atomic_path(out) as temporary, native_stderr_filtered():  # the converters' and interpreter's notes
        temporary.mkdir(parents=True)
        for name, export_format in FORMATS.items():
            copy.export(str(temporary / name), format=export_format, verbose=False)
        names = list(FORMATS)
        if quantize != "none":
            quantized_litert(copy, quantize, calibration, temporary / QUANTIZED[quantize])
            names.append(QUANTIZED[quantize])
        digests = {name: export_digest(temporary / name) for name in names}
        sidecar = ExportInfo(info, int(model.input_shape[1]), digests)
        (temporary / INFO_NAME).write_text(sidecar.to_json(), encoding="utf-8")
        checked = check_exports(temporary, copy, images)
    return copy, checked


def quantized_litert(copy: keras.Model, quantize: str, calibration: np.ndarray | None, path: Path) -> None:
    """LiteRT's converter with its default optimisation: int8 weights (``dynamic``); with ``int8`` also int8
    activations, their ranges measured on ``calibration`` (raw RGB 0-255, as the model takes). Inputs and
    outputs stay float32, so every runner of the float32 LiteRT model runs it."""
    import tensorflow as tf

    options: dict = {"optimizations": [tf.lite.Optimize.DEFAULT]}
    if quantize == "int8":
        if calibration is None or not len(calibration):
            raise ValueError("int8 quantisation needs calibration images")

        def representative_dataset():
            for image in calibration:
                yield [image[None].astype(np.float32)]

        options["representative_dataset"] = representative_dataset
    copy.export(str(path), format="litert", verbose=False, **options)


def quantized_report(out: Path, quantize: str, images: np.ndarray, labels: np.ndarray) -> dict:
    """The quantised LiteRT model against the float32 one on ``images`` (the test split): file sizes,
    accuracies and how often their top classes agree."""
    names = {"float32": "model.tflite", "quantized": QUANTIZED[quantize]}
    predicted = {}
    for kind, name in names.items():
        probabilities = load_classifier(out / name).probabilities
        batches = [probabilities(images[i : i + 256].astype(np.float32)) for i in range(0, len(images), 256)]
        predicted[kind] = np.concatenate(batches).argmax(axis=1)
    return {
        "mode": quantize,
        "file": names["quantized"],
        "bytes": (out / names["quantized"]).stat().st_size,
        "float32_bytes": (out / names["float32"]).stat().st_size,
        "accuracy": float(np.mean(predicted["quantized"] == labels)),
        "float32_accuracy": float(np.mean(predicted["float32"] == labels)),
        "top1_agreement": float(np.mean(predicted["quantized"] == predicted["float32"])),
        "test_images": len(labels),
    }


LATENCY_RUNS = 30
"""Single-photo calls timed per export (after one warm-up call); their median is its latency."""


@dataclass(frozen=True)
class Checked:
    """What :func:`check_exports` saw of each export: its largest |probability difference| from the Keras
    model, its median latency on one photo in ms (of :data:`LATENCY_RUNS` calls) and its size in bytes."""

    max_abs_difference: dict[str, float]
    latency_ms: dict[str, float]
    bytes: dict[str, int]

    def report(self) -> dict:
        """metrics/export.json's part of it."""
        return {**dataclasses.asdict(self), "latency_runs": LATENCY_RUNS}

    def summary(self) -> str:
        """``saved_model 0.0e+00 (1.20 ms), ...``: each export's largest difference and latency."""
        return ", ".join(f"{n} {d:.1e} ({self.latency_ms[n]:.2f} ms)" for n, d in self.max_abs_difference.items())


def check_exports(out: Path, reference: keras.Model, images: np.ndarray) -> Checked:
    """Each export in ``out`` run in its own runtime on ``images`` against ``reference``, and timed on the
    first; ExportMismatch if a probability differs by more than TOLERANCE."""
    images = images.astype(np.float32)
    expected = reference(images, training=False).numpy()
    differences, latency = {}, {}
    for name in FORMATS:
        classifier = load_classifier(out / name)
        differences[name] = float(np.abs(classifier.probabilities(images) - expected).max())
        if differences[name] > TOLERANCE:
            raise ExportMismatch(
                f"{out.name}/{name}: probabilities differ from the Keras model's by {differences[name]:.2e} "
                f"(more than {TOLERANCE:g}); nothing was exported"
            )
        latency[name] = median_ms(classifier.probabilities, images[:1])
    sizes = {name: sum(f.stat().st_size for f in files(out / name)) for name in FORMATS}
    return Checked(differences, latency, sizes)


def median_ms(call: Callable[[np.ndarray], object], image: np.ndarray, runs: int = LATENCY_RUNS) -> float:
    """The median wall time of ``call(image)`` in ms over ``runs`` calls, after one warm-up call."""
    call(image)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call(image)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def files(path: Path) -> list[Path]:
    """``path`` if it is a file, else every file under it."""
    return [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
