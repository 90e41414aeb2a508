"""The one TFRecord schema: what is written is what is parsed."""

import subprocess
import sys

import numpy as np
import pytest

from helpers.data import read_arrays
from starrec.data.records import (
    count_records,
    read_labels_and_ids,
    read_records,
    relabel,
    serialize_example,
    shard_files,
    write_shards,
)


def test_round_trip_across_shards(tmp_path, tiny_arrays):
    images, labels = tiny_arrays
    ids = [f"class/{i}.png" for i in range(len(labels))]
    count = write_shards(zip(images, labels, ids, strict=True), tmp_path / "records", shard_size=10)
    assert count == 24
    assert [p.rsplit("/", 1)[1] for p in shard_files(tmp_path / "records")] == [
        "part-00000.tfrecord",
        "part-00001.tfrecord",
        "part-00002.tfrecord",
    ]
    read_images, read_labels, read_ids = read_arrays(tmp_path / "records", 16)
    np.testing.assert_array_equal(read_images, images)
    np.testing.assert_array_equal(read_labels, labels)
    assert list(read_ids) == ids
    assert count_records(tmp_path / "records") == 24
    only_labels, only_ids = read_labels_and_ids(tmp_path / "records")
    np.testing.assert_array_equal(only_labels, labels)
    assert list(only_ids) == ids


def test_every_pipeline_from_records_has_no_autotune_thread_to_wait_for(tmp_path, tiny_arrays):
    """Deleting an iterator waits out that thread's sleep (a fit stood still 3.4 s): record_dataset's reason."""
    images, labels = tiny_arrays
    write_shards(zip(images, labels, map(str, range(len(labels))), strict=True), tmp_path, shard_size=10)
    downstream = read_records(tmp_path, 16).map(lambda example: example["image"]).batch(4).prefetch(2)
    assert downstream.options().autotune.enabled is False


def test_relabel_gives_the_bytes_of_a_fresh_serialization(tiny_arrays):
    image = tiny_arrays[0][0]
    assert relabel(serialize_example(image, 0, "a/b.png"), 7) == serialize_example(image, 7, "a/b.png")


def test_wrong_image_size_or_dtype_is_refused(tmp_path, tiny_arrays):
    images, labels = tiny_arrays
    with pytest.raises(ValueError, match="uint8"):
        serialize_example(images[0].astype(np.float32), 0, "x")
    write_shards([(images[0], 0, "x")], tmp_path / "r", 5)
    with pytest.raises(Exception, match="16"):
        read_arrays(tmp_path / "r", 32)


def test_missing_shards_name_the_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        shard_files(tmp_path)


@pytest.mark.slow  # many bootstrap runs / fresh interpreters
def test_serialized_bytes_are_identical_across_processes():
    script = (
        "import hashlib, numpy as np; from starrec.data.records import serialize_example; "
        "print(hashlib.sha256(serialize_example(np.zeros((4, 4, 3), np.uint8), 1, 'a/b.png')).hexdigest())"
    )
    digests = {
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
        for _ in range(3)
    }
    assert len(digests) == 1
