"""Helpers of the tests that train and evaluate in memory: tiny params and images, arrays as datasets, a
fit on them, params with one section changed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image

from starrec.params import parse_params


def save_image(path: Path, pixels: np.ndarray, **save_args) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, **save_args)
    return path


def labels_from_confusion(matrix) -> tuple[np.ndarray, np.ndarray]:
    """Expand a confusion matrix (rows true, columns predicted) into label arrays."""
    truth, predicted = [], []
    for actual, row in enumerate(matrix):
        for guess, count in enumerate(row):
            truth += [actual] * count
            predicted += [guess] * count
    return np.asarray(truth), np.asarray(predicted)


def make_tiny_params():
    """Params for fast training: 16x16 images, small net, few epochs, float32 whatever the CPU.

    ``train.precision: auto`` would pick bfloat16 on a CPU with it and change every exact number; a test of a
    precision sets it (``precisions`` parametrises over both: TensorFlow emulates bfloat16 where the CPU lacks it).
    """
    return parse_params(
        {
            "seed": 7,
            "image": {"size": 16},
            "model": {"conv_filters": [4], "dense_units": [8], "dropout": 0.0},
            "train": {"epochs": 2, "batch_size": 8, "learning_rate": 0.01, "precision": "float32"},
            "augment": {"copies": 1},
            "kfold": {"k": 2},
        }
    )


def from_arrays(images: np.ndarray, labels: np.ndarray, ids=None):
    """Parsed-example dicts from in-memory arrays (the structure of records.read_records).

    ``ids`` default to the example's position as a string.
    """
    import tensorflow as tf

    if ids is None:
        ids = tf.strings.as_string(tf.range(len(labels), dtype=tf.int64))
    else:
        ids = tf.constant([str(i) for i in ids])
    return tf.data.Dataset.from_tensor_slices({"image": images, "label": labels, "id": ids})


def fit_arrays(params, images, labels, **options):
    """Train on in-memory arrays with ``params`` (statistics from the images); returns (model, history)."""
    from starrec.train.preprocess import normalization_stats
    from starrec.train.training import RunOptions, TrainingData, fit

    stats = normalization_stats([images], params.augment.grayscale)
    val_examples, data_id = options.pop("val_examples", None), options.pop("data_id", "")
    data = TrainingData(from_arrays(images, labels), len(labels), 3, stats, val_examples, data_id)
    return fit(
        data,
        params.model,
        params.train,
        params.seed,
        RunOptions(**{"verbose": 0, "runtime": params.runtime, **options}),
    )


def read_arrays(directory: Path, image_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every example of a records directory as arrays (images, labels, ids): small test data only."""
    from starrec.data.records import read_records

    examples = list(read_records(directory, image_size).as_numpy_iterator())
    return (
        np.stack([e["image"] for e in examples]),
        np.asarray([e["label"] for e in examples], dtype=np.int64),
        np.asarray([e["id"].decode() for e in examples], dtype=object),
    )


def replace(params, section: str, **changes):
    """A copy of ``params`` with ``changes`` applied to one section."""
    return dataclasses.replace(params, **{section: dataclasses.replace(getattr(params, section), **changes)})


def make_tiny_arrays():
    """24 RGB 16x16 images of 3 learnable classes (synthetic stripes)."""
    from starrec.data.download import synthetic_image

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 8)
    images = np.stack([synthetic_image(int(c), 3, rng, size=16) for c in labels])
    return images, labels.astype(np.int64)
