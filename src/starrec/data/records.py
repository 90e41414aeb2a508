"""The one TFRecord schema of the project: write and parse.

Each example holds ``image`` (raw RGB uint8 bytes, height x width x 3),
``label`` (int64 index into the class list), ``height``, ``width`` and
``id`` (the image's stable identifier from the manifest).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import tensorflow as tf

from starrec.errors import MissingInput

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

    def int64(value: int) -> tf.train.Feature:
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))

    def raw(value: bytes) -> tf.train.Feature:
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


def write_serialized_shards(serialized: Iterable[bytes], directory: Path, shard_size: int) -> int:
    """Write serialized examples to ``directory/part-NNNNN.tfrecord``, ``shard_size`` per file; return the count."""
    directory.mkdir(parents=True, exist_ok=True)
    count, writer = 0, None
    try:
        for record in serialized:
            if count % shard_size == 0:
                if writer is not None:
                    writer.close()
                writer = tf.io.TFRecordWriter(str(directory / SHARD_PATTERN.format(count // shard_size)))
            assert writer is not None  # opened at count 0
            writer.write(record)
            count += 1
    finally:
        if writer is not None:
            writer.close()
    return count


def write_shards(examples: Iterable[tuple[np.ndarray, int, str]], directory: Path, shard_size: int) -> int:
    """Write ``(image, label, id)`` tuples to ``directory/part-NNNNN.tfrecord``; return the count."""
    return write_serialized_shards(
        (serialize_example(image, label, example_id) for image, label, example_id in examples), directory, shard_size
    )


def record_dataset(files: list[str]) -> tf.data.Dataset:
    """The serialized examples of ``files`` in order: the start of every pipeline that reads records.

    It runs no tf.data autotune model thread: deleting an iterator waits for that thread's current sleep,
    which grows with the iterator's age and which TensorFlow does not cut short (a fit stood still 3.4 s after
    7 s of training, a 2 s prediction pass 0.9 s). Without it the AUTOTUNE maps run on as many threads as
    cores and the prefetch buffers grow as the reader waits: as fast here.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return tf.data.TFRecordDataset(files).with_options(options)


def serialized_records(files: str | Path | list[str]) -> Iterator[bytes]:
    """The serialized examples of a directory's shards (or of the given files), in order, one at a time."""
    names = shard_files(files) if isinstance(files, (str, Path)) else files
    return record_dataset(names).as_numpy_iterator()


def relabel(serialized: bytes, label: int) -> bytes:
    """The same example with another label (deterministic bytes, as :func:`serialize_example`)."""
    example = tf.train.Example.FromString(serialized)
    example.features.feature["label"].int64_list.value[:] = [label]
    return example.SerializeToString(deterministic=True)


def count_records(directory: str | Path) -> int:
    """How many examples the shards of ``directory`` hold (read, not parsed)."""
    return int(record_dataset(shard_files(directory)).reduce(np.int64(0), lambda count, _: count + 1))


def read_labels_and_ids(directory: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Every example's label and id, in order, without decoding the images."""
    features = {"label": FEATURES["label"], "id": FEATURES["id"]}
    dataset = record_dataset(shard_files(directory)).batch(4096)
    labels, ids = [np.zeros(0, np.int64)], [np.zeros(0, object)]
    for batch in dataset.map(lambda s: tf.io.parse_example(s, features)).as_numpy_iterator():
        labels.append(batch["label"])
        ids.append(np.asarray([value.decode("utf-8") for value in batch["id"]], dtype=object))
    return np.concatenate(labels), np.concatenate(ids)


def shard_files(directory: str | Path) -> list[str]:
    """The shard files of ``directory`` in order; an error names an empty directory."""
    files = sorted(str(path) for path in Path(directory).glob("part-*.tfrecord"))
    if not files:
        raise MissingInput(f"{directory}: no TFRecord shards (part-*.tfrecord); run the earlier stages")
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
    dataset = record_dataset(shard_files(directory))
    return dataset.map(lambda s: parse_example(s, image_size), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def content_hash(*directories: str | Path) -> str:
    """sha256 over the sha256 of every shard of ``directories``: which data a run was given."""
    digest = hashlib.sha256()
    for directory in directories:
        for name in shard_files(directory):
            with open(name, "rb") as stream:
                digest.update(hashlib.file_digest(stream, "sha256").digest())
    return digest.hexdigest()
