"""The one TFRecord schema of the project: write and parse.

Each example holds ``image`` (raw RGB uint8 bytes, height x width x 3),
``label`` (int64 index into the class list), ``height``, ``width`` and
``id`` (the image's stable identifier from the manifest).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import tensorflow as tf

SHARD_PATTERN = "part-{:05d}.tfrecord"

FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string),
    "label": tf.io.FixedLenFeature([], tf.int64),
    "height": tf.io.FixedLenFeature([], tf.int64),
    "width": tf.io.FixedLenFeature([], tf.int64),
    "id": tf.io.FixedLenFeature([], tf.string),
}


def serialize_example(image: np.ndarray, label: int, example_id: str) -> bytes:
    """Encode one RGB uint8 image with its label and id as a tf.train.Example.

    The bytes are the same in every process (protobuf map order is fixed), so
    DVC hashes of the records do not drift between runs and machines.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (h, w, 3) uint8 image, got {image.shape} {image.dtype}")

    def int64(value):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))

    def raw(value: bytes):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    features = {
        "image": raw(image.tobytes()),
        "label": int64(label),
        "height": int64(image.shape[0]),
        "width": int64(image.shape[1]),
        "id": raw(example_id.encode("utf-8")),
    }
    example = tf.train.Example(features=tf.train.Features(feature=features))
    return example.SerializeToString(deterministic=True)  # fixed map order: same bytes, same DVC hash


def write_shards(examples: Iterable[tuple[np.ndarray, int, str]], directory: Path, shard_size: int) -> int:
    """Write ``(image, label, id)`` tuples to ``directory/part-NNNNN.tfrecord``; return the count."""
    directory.mkdir(parents=True, exist_ok=True)
    count, writer = 0, None
    try:
        for image, label, example_id in examples:
            if count % shard_size == 0:
                if writer is not None:
                    writer.close()
                writer = tf.io.TFRecordWriter(str(directory / SHARD_PATTERN.format(count // shard_size)))
            writer.write(serialize_example(image, label, example_id))
            count += 1
    finally:
        if writer is not None:
            writer.close()
    return count


def shard_files(directory: str | Path) -> list[str]:
    """The shard files of ``directory`` in order; an error names an empty directory."""
    files = sorted(str(path) for path in Path(directory).glob("part-*.tfrecord"))
    if not files:
        raise FileNotFoundError(f"{directory}: no TFRecord shards (part-*.tfrecord); run the earlier stages")
    return files


def parse_example(serialized: tf.Tensor, image_size: int) -> dict[str, tf.Tensor]:
    """Parse one serialized example into ``image`` (size x size x 3 uint8), ``label``, ``id``."""
    features = tf.io.parse_single_example(serialized, FEATURES)
    image = tf.io.decode_raw(features["image"], tf.uint8)
    image = tf.reshape(image, tf.stack([features["height"], features["width"], 3]))
    image = tf.ensure_shape(image, [image_size, image_size, 3])
    return {"image": image, "label": features["label"], "id": features["id"]}


def read_records(directory: str | Path, image_size: int) -> tf.data.Dataset:
    """A dataset of parsed examples (dicts) from every shard of ``directory``, in file order."""
    dataset = tf.data.TFRecordDataset(shard_files(directory))
    return dataset.map(lambda s: parse_example(s, image_size), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def read_arrays(directory: str | Path, image_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All examples of ``directory`` as numpy arrays ``(images, labels, ids)``."""
    images, labels, ids = [], [], []
    for example in read_records(directory, image_size).as_numpy_iterator():
        images.append(example["image"])
        labels.append(example["label"])
        ids.append(example["id"].decode("utf-8"))
    shape = (0, image_size, image_size, 3)
    return (
        np.stack(images) if images else np.zeros(shape, np.uint8),
        np.asarray(labels, dtype=np.int64),
        np.asarray(ids, dtype=object),
    )
