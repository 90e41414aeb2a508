"""Randomized, stratified, seeded train/val/test split that keeps duplicates together."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import tensorflow as tf

from starrec.data.records import serialized_records, write_serialized_shards
from starrec.errors import StarrecError

SPLITS = ("train", "val", "test")


class SplitError(StarrecError, ValueError):
    """A class has too few distinct pictures for the split fractions; the message names it."""


def split_indices(
    labels: np.ndarray, groups: np.ndarray, fractions: dict[str, float], seed: int, classes: list[str]
) -> dict[str, np.ndarray]:
    """Indices of each split, shuffled.

    Examples sharing a group (one picture: :mod:`starrec.data.duplicates`) always
    land in the same split. Within every class the groups are shuffled with
    ``seed`` and cut by ``fractions`` (val and test rounded, train takes the
    rest), so each split keeps the class proportions. A class that would get
    no picture in a split with a fraction above 0 is refused.
    """
    labels, groups = np.asarray(labels), np.asarray(groups)
    rng = np.random.default_rng(seed)
    members: dict = {}
    for index, group in enumerate(groups):
        members.setdefault(group, []).append(index)
    chosen: dict[str, list[int]] = {name: [] for name in SPLITS}
    for label in np.unique(labels):
        class_groups = [group for group, indices in members.items() if labels[indices[0]] == label]
        order = rng.permutation(len(class_groups))
        n = len(class_groups)
        n_test = int(round(n * fractions["test"]))
        n_val = min(int(round(n * fractions["val"])), n - n_test)
        cuts = {"test": order[:n_test], "val": order[n_test : n_test + n_val], "train": order[n_test + n_val :]}
        for name, picked in cuts.items():
            if fractions[name] > 0 and len(picked) == 0:
                n_images = int(np.sum(labels == label))
                raise SplitError(
                    f"class {classes[label]!r} has {n} distinct pictures ({n_images} images), so split.{name} = "
                    f"{fractions[name]:g} gives it none; add pictures of it, change the fractions, or leave it out "
                    "with data.classes"
                )
        for name, picked in cuts.items():
            for position in picked:
                chosen[name].extend(members[class_groups[position]])
    return {name: rng.permutation(np.asarray(chosen[name], dtype=np.int64)) for name in SPLITS}


def write_splits(records: Path, chosen: dict[str, np.ndarray], directory: Path, shard_size: int) -> None:
    """Copy every example of ``records`` (by its index) into ``directory/<split>/``, in the
    split's shuffled order, ``shard_size`` per shard, holding one shard in memory at a time.

    The records are read once and each goes to a scratch file of its output
    shard; each scratch file is then put in order and written as that shard.
    """
    n = sum(len(indices) for indices in chosen.values())
    split_of, position = np.full(n, -1), np.zeros(n, np.int64)
    for number, name in enumerate(SPLITS):
        split_of[chosen[name]] = number
        position[chosen[name]] = np.arange(len(chosen[name]))
    shard_of = position // shard_size
    scratch = directory / "scratch"
    scratch.mkdir(parents=True)
    writers: dict[tuple[int, int], tf.io.TFRecordWriter] = {}
    try:
        for index, record in enumerate(serialized_records(records)):
            key = (int(split_of[index]), int(shard_of[index]))
            if key not in writers:
                writers[key] = tf.io.TFRecordWriter(str(scratch / f"{key[0]}-{key[1]}.tfrecord"))
            writers[key].write(record)
    finally:
        for writer in writers.values():
            writer.close()

    def in_order(number: int, shards: int):
        for shard in range(shards):
            members = np.flatnonzero((split_of == number) & (shard_of == shard))
            bucket = serialized_records([str(scratch / f"{number}-{shard}.tfrecord")])
            yield from (record for _, record in sorted(zip(position[members], bucket, strict=True)))

    for number, name in enumerate(SPLITS):
        write_serialized_shards(in_order(number, -(-len(chosen[name]) // shard_size)), directory / name, shard_size)
    shutil.rmtree(scratch)


def split_counts(labels: np.ndarray, chosen: dict[str, np.ndarray], classes: list[str]) -> list[dict]:
    """Rows of (split, class, count) for every split and class, zeros included."""
    return [
        {"split": name, "class": cls, "count": int(np.sum(labels[chosen[name]] == label))}
        for name in SPLITS
        for label, cls in enumerate(classes)
    ]
