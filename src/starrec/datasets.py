"""tf.data pipelines from parsed examples to (image, label) batches for Keras."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from starrec.params import TrainParams


def resolve_batch_size(batch_size: int | str, n_examples: int) -> int:
    """``full`` is the whole set (one step per epoch); an integer is capped at the set size."""
    if batch_size == "full":
        return max(1, n_examples)
    return max(1, min(int(batch_size), n_examples))


def steps_per_epoch(train: TrainParams, n_examples: int) -> int:
    return -(-n_examples // resolve_batch_size(train.batch_size, n_examples))


def from_arrays(images: np.ndarray, labels: np.ndarray, ids=None) -> tf.data.Dataset:
    """Parsed-example dicts from in-memory arrays (same structure as records.read_records).

    ``ids`` default to the example's position as a string.
    """
    if ids is None:
        ids = tf.strings.as_string(tf.range(len(labels), dtype=tf.int64))
    else:
        ids = tf.constant([str(i) for i in ids])
    return tf.data.Dataset.from_tensor_slices({"image": images, "label": labels, "id": ids})


def batches(examples: tf.data.Dataset, batch_size: int, shuffle_seed: int | None = None) -> tf.data.Dataset:
    """(float32 image 0-255, label) batches; shuffled every epoch when ``shuffle_seed`` is set."""
    pairs = examples.map(
        lambda example: (tf.cast(example["image"], tf.float32), example["label"]),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    ).cache()
    if shuffle_seed is not None:
        pairs = pairs.shuffle(10_000, seed=shuffle_seed, reshuffle_each_iteration=True)
    return pairs.batch(batch_size).prefetch(tf.data.AUTOTUNE)
