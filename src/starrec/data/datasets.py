"""tf.data pipelines from parsed examples to (image, label) batches for Keras.

Images stay uint8 until they are batched (a quarter of the memory of float32
in any cache or shuffle buffer). Each training epoch is shuffled with its own
seed, so a resumed run sees exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from starrec.params import TrainParams

CACHE_IN_MEMORY_UP_TO = 2 * 2**30
"""``runtime.cache: auto`` keeps the training pixels in memory up to this many bytes (uint8), else re-reads them."""

SHUFFLE_BUFFER_BYTES = 128 * 2**20
"""The shuffle buffer holds at most this many bytes of pixels (and at most the whole set)."""


def resolve_batch_size(batch_size: int | str, n_examples: int) -> int:
    """``full`` is the whole set (one step per epoch); an integer is capped at the set size."""
    if batch_size == "full":
        return max(1, n_examples)
    return max(1, min(int(batch_size), n_examples))


def steps_per_epoch(train: TrainParams, n_examples: int) -> int:
    return -(-n_examples // resolve_batch_size(train.batch_size, n_examples))


def cache_mode(cache: str, n_examples: int, image_size: int) -> str:
    """``memory``, ``disk`` or ``none``: ``auto`` is memory when the pixels fit :data:`CACHE_IN_MEMORY_UP_TO`."""
    if cache != "auto":
        return cache
    return "memory" if n_examples * image_size * image_size * 3 <= CACHE_IN_MEMORY_UP_TO else "none"


def _pairs(examples: tf.data.Dataset) -> tf.data.Dataset:
    return examples.map(lambda example: (example["image"], example["label"]), num_parallel_calls=tf.data.AUTOTUNE)


def _to_float(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    return tf.cast(images, tf.float32), labels


def batches(
    examples: tf.data.Dataset, batch_size: int, cache: str = "none", cache_file: Path | None = None
) -> tf.data.Dataset:
    """(float32 image 0-255, label) batches in order: for validation, evaluation and prediction.

    ``cache`` as in :func:`training_batches`: validation, read every epoch, is kept like the training set.
    """
    return _cached(_pairs(examples), cache, cache_file).batch(batch_size).map(_to_float).prefetch(tf.data.AUTOTUNE)


def _cached(pairs: tf.data.Dataset, cache: str, cache_file: Path | None) -> tf.data.Dataset:
    """``pairs`` kept after their first pass: ``memory``, ``disk`` (in ``cache_file``) or ``none``."""
    if cache == "memory":
        return pairs.cache()
    if cache == "disk":
        return pairs.cache(str(cache_file))
    return pairs


def image_arrays(examples: tf.data.Dataset, limit: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images (n, h, w, 3), labels) of the first ``limit`` examples (-1: all), in memory."""
    images, labels = [], []
    for image, label in _pairs(examples.take(limit)).batch(256).as_numpy_iterator():
        images.append(image.astype(np.uint8))
        labels.append(label)
    return np.concatenate(images), np.concatenate(labels)


def training_batches(
    examples: tf.data.Dataset,
    batch_size: int,
    seed: int,
    epochs: range,
    cache: str,
    cache_file: Path | None = None,
) -> tf.data.Dataset:
    """The batches of ``epochs`` one after another; epoch e shuffled with seed ``(seed, e)``.

    ``cache`` is ``memory``, ``disk`` (in ``cache_file``) or ``none`` (re-read every epoch).
    """
    pairs = _cached(_pairs(examples), cache, cache_file)
    image_bytes = int(np.prod(examples.element_spec["image"].shape))
    buffer = max(1, SHUFFLE_BUFFER_BYTES // image_bytes)
    per_epoch = tf.data.Dataset.range(epochs.start, epochs.stop).flat_map(
        lambda epoch: pairs.shuffle(buffer, seed=seed * 1_000_003 + epoch, reshuffle_each_iteration=False).batch(
            batch_size
        )
    )
    return per_epoch.map(_to_float).prefetch(tf.data.AUTOTUNE)
