"""Augmentation is reproducible, varies between copies, and each op can be off."""

import dataclasses

import numpy as np

from helpers.data import from_arrays
from starrec.data.augment import augment_image, with_augmented_copies
from starrec.params import AugmentParams


def materialise(dataset):
    return list(dataset.as_numpy_iterator())


def test_copies_follow_their_original_and_are_reproducible(tiny_arrays):
    images, labels = tiny_arrays
    params = AugmentParams(
        copies=2, rotation=0.5, noise=10.0, flip_left_right=True, contrast=[0.5, 1.5], saturation=[0.7, 1.3], hue=0.05
    )
    first = materialise(with_augmented_copies(from_arrays(images[:4], labels[:4]), params, seed=3))
    second = materialise(with_augmented_copies(from_arrays(images[:4], labels[:4]), params, seed=3))
    assert len(first) == 12
    assert [e["id"].decode() for e in first[:3]] == ["0", "0#aug1", "0#aug2"]
    np.testing.assert_array_equal(first[0]["image"], images[0])
    assert not np.array_equal(first[1]["image"], first[2]["image"])
    assert all(a["label"] == b["label"] for a, b in zip(first, second, strict=True))
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a["image"], b["image"])
    other_seed = materialise(with_augmented_copies(from_arrays(images[:4], labels[:4]), params, seed=4))
    assert not np.array_equal(first[1]["image"], other_seed[1]["image"])
    for position, example in enumerate(first):  # variant c of example i: the seed (3, i * 3 + c)
        i, c = divmod(position, 3)
        seeded = augment_image(images[i], np.array([3, i * 3 + c]), params).numpy() if c else images[i]
        np.testing.assert_array_equal(example["image"], seeded)


def test_everything_off_is_the_identity(tiny_arrays):
    images, _ = tiny_arrays
    off = AugmentParams(copies=1, rotation=0.0, noise=0.0, brightness=0.0, contrast=None, saturation=None, hue=0.0)
    np.testing.assert_array_equal(augment_image(images[0], np.array([1, 2]), off).numpy(), images[0])


def test_each_op_changes_the_image_on_its_own(tiny_arrays):
    images, _ = tiny_arrays
    off = AugmentParams(copies=1, rotation=0.0, noise=0.0, brightness=0.0, contrast=None, saturation=None, hue=0.0)
    for change in (
        {"rotation": 1.0},
        {"noise": 20.0},
        {"brightness": 0.3},
        {"contrast": [0.2, 0.5]},
        {"saturation": [0.0, 0.3]},
        {"hue": 0.3},
    ):
        out = augment_image(images[5], np.array([1, 2]), dataclasses.replace(off, **change)).numpy()
        assert out.dtype == np.uint8 and out.shape == images[5].shape
        assert not np.array_equal(out, images[5]), change


def test_mirror_flips_exactly():
    image = np.arange(2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 3)
    off = AugmentParams(copies=1, rotation=0.0, noise=0.0, brightness=0.0, contrast=None, flip_left_right=True)
    outputs = {augment_image(image, np.array([0, s]), off).numpy().tobytes() for s in range(20)}
    assert outputs == {image.tobytes(), image[:, ::-1].tobytes()}


def test_variants_keep_the_manifest_id(tiny_arrays):
    images, labels = tiny_arrays
    ids = ["ann/1.png", "bob/2.png"]
    out = materialise(with_augmented_copies(from_arrays(images[:2], labels[:2], ids), AugmentParams(copies=1), seed=1))
    assert [e["id"].decode() for e in out] == ["ann/1.png", "ann/1.png#aug1", "bob/2.png", "bob/2.png#aug1"]


def test_no_copies_passes_examples_through(tiny_arrays):
    images, labels = tiny_arrays
    out = materialise(with_augmented_copies(from_arrays(images, labels), AugmentParams(copies=0), seed=1))
    assert len(out) == 24
