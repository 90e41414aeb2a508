"""One preprocessing path: grayscale matches TF, statistics come from the given images."""

import numpy as np
import pytest
import tensorflow as tf

from starrec.train.preprocess import (
    Grayscale,
    NormalizationStats,
    grayscale_layer,
    normalization_stats,
    preprocessing_layers,
)


@pytest.mark.parametrize("layer", [grayscale_layer, Grayscale], ids=["conv", "older_files"])
def test_grayscale_matches_tensorflow(tiny_arrays, layer):
    images = tiny_arrays[0].astype(np.float32)
    np.testing.assert_allclose(
        np.asarray(layer()(images)), tf.image.rgb_to_grayscale(images).numpy(), rtol=1e-3, atol=0.05
    )


def test_normalised_training_pixels_have_zero_mean_unit_variance(tiny_arrays):
    images = tiny_arrays[0]
    for grayscale, channels in ((True, 1), (False, 3)):
        stats = normalization_stats([images], grayscale)
        assert len(stats.mean) == channels
        x = images.astype(np.float32)
        for layer in preprocessing_layers(stats):
            x = layer(x)
        x = np.asarray(x)
        assert x.shape[-1] == channels
        np.testing.assert_allclose(x.mean(axis=(0, 1, 2)), 0.0, atol=1e-3)
        np.testing.assert_allclose(x.std(axis=(0, 1, 2)), 1.0, atol=1e-3)


def test_statistics_in_batches_equal_numpy_over_the_whole_set(tiny_arrays):
    images = tiny_arrays[0]
    stats = normalization_stats((images[i : i + 5] for i in range(0, len(images), 5)), grayscale=False)
    pixels = images.reshape(-1, 3).astype(np.float64)
    assert stats.mean == pytest.approx(pixels.mean(axis=0), rel=1e-12)
    assert stats.variance == pytest.approx(pixels.var(axis=0), rel=1e-9)


def test_statistics_round_trip_through_json(tmp_path):
    stats = NormalizationStats(True, (100.5,), (900.25,))
    stats.save(tmp_path / "stats.json")
    assert NormalizationStats.load(tmp_path / "stats.json") == stats
