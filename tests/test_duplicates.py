"""The near-duplicate threshold (data.near_duplicate_rms = 2.0) separates copies of one picture
from distinct pictures, on photos and on the default digits."""

import io

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits, load_sample_images

from starrec.data.duplicates import duplicate_groups, thumbnail
from starrec.data.images import resize
from starrec.params import DataParams

THRESHOLD = DataParams().near_duplicate_rms


def rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((thumbnail(a).astype(float) - thumbnail(b).astype(float)) ** 2)))


def jpeg(pixels: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


def photo_crops(count: int = 40) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    photos = load_sample_images().images
    crops = []
    for number in range(count):
        y, x = rng.integers(0, 200), rng.integers(0, 400)
        crops.append(photos[number % 2][y : y + 220, x : x + 220])
    return crops


def test_copies_of_a_photo_fall_below_the_threshold_and_distinct_photos_above():
    crops = photo_crops()
    for size in (32, 140):
        originals = [resize(crop, size) for crop in crops]
        copies = [
            resize(copy, size)
            for crop in crops
            for copy in (jpeg(crop, 50), jpeg(crop, 85), np.asarray(Image.fromarray(crop).resize((90, 90))))
        ]
        assert max(rms(originals[i // 3], copy) for i, copy in enumerate(copies)) < THRESHOLD
        distinct = [rms(a, b) for i, a in enumerate(originals) for b in originals[i + 1 :]]
        assert min(distinct) > THRESHOLD


def test_no_two_digits_are_grouped():
    digits = load_digits()
    pixels = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    images = [resize(np.repeat(image[..., None], 3, axis=2), 32) for image in pixels]
    thumbnails = np.stack([thumbnail(image) for image in images])
    groups = duplicate_groups(digits.target, np.arange(len(images)).astype(str), thumbnails, THRESHOLD)
    assert len(set(groups.tolist())) == len(images)


def test_groups_are_transitive_and_per_class():
    thumbnails = np.array([[0] * 256, [1] * 256, [50] * 256, [2] * 256, [0] * 256, [100] * 256], np.uint8)
    labels, files = np.array([0, 0, 0, 0, 1, 0]), np.array(list("abcdec"))
    assert duplicate_groups(labels, files, thumbnails, 1.0).tolist() == [0, 0, 2, 0, 4, 2]  # c: one file
