"""What the pictures show matches a direct computation on a tiny model."""

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from helpers.data import replace
from starrec.evaluation.visualize import (
    class_count_bars,
    filter_grid,
    image_grid,
    map_grid,
    pick_examples,
    saliency_function,
    trace,
    value_range,
)
from starrec.train.network import build_model
from starrec.train.preprocess import NormalizationStats


def tiny_model(tiny_params):
    stats = NormalizationStats(True, (100.0,), (900.0,))
    return build_model(16, 3, replace(tiny_params, "model", conv_filters=[3, 2], dense_units=[]).model, stats)


def test_activations_and_gradients_match_a_direct_computation(tiny_params, tiny_arrays):
    model = tiny_model(tiny_params)
    images = tiny_arrays[0][:4].astype(np.float32)
    seen = trace(model, images)
    conv_2 = model.get_layer("conv_2")
    direct_activations = keras.Model(model.input, conv_2.output)(images).numpy()
    np.testing.assert_allclose(seen.activations["conv_2"], direct_activations, rtol=1e-5, atol=1e-6)
    head = keras.Model(conv_2.output, model.get_layer("logits").output)
    activations = tf.convert_to_tensor(direct_activations)
    with tf.GradientTape() as tape:
        tape.watch(activations)
        logits = head(activations)
        score = tf.reduce_sum(tf.gather(logits, seen.predicted, axis=1, batch_dims=1))
    np.testing.assert_allclose(
        seen.gradients["conv_2"], tape.gradient(score, activations).numpy(), rtol=1e-4, atol=1e-7
    )
    np.testing.assert_array_equal(seen.predicted, model.predict(images, verbose=0).argmax(axis=1))
    assert seen.saliency.shape == (4, 16, 16) and seen.saliency.max() > 0
    assert value_range(direct_activations) == {
        "max": float(direct_activations.max()),
        "min": float(direct_activations.min()),
    }


def test_the_compiled_saliency_of_serving_is_the_traced_one(tiny_params, tiny_arrays):
    model = tiny_model(tiny_params)
    images = tiny_arrays[0][:6].astype(np.float32)
    probabilities, saliency = saliency_function(model)(images)
    np.testing.assert_allclose(probabilities, model(images).numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(saliency, trace(model, images).saliency, rtol=1e-4, atol=1e-8)
    assert saliency.shape == (6, 16, 16) and saliency.max() > 0


def test_examples_include_every_class_first():
    labels = np.array([2, 2, 0, 1, 1, 0])
    assert pick_examples(labels, 4).tolist() == [2, 3, 0, 1]
    assert pick_examples(labels, 1).tolist() == [2, 3, 0]


def test_pictures_are_non_blank_pngs(tmp_path, tiny_params, tiny_arrays):
    model = tiny_model(tiny_params)
    images = tiny_arrays[0][:3]
    seen = trace(model, images)
    map_grid(seen.activations["conv_1"], ["a", "b", "c"], "t", tmp_path / "maps.png", 8, "viridis")
    filter_grid(model.get_layer("conv_1").get_weights()[0], "f", tmp_path / "filters.png")
    image_grid(images, ["x", "y", "z"], "s", tmp_path / "saliency.png", seen.saliency)
    image_grid(images[:0], [], "none", tmp_path / "empty.png")
    class_count_bars(
        [{"split": s, "class": c, "count": n} for s, c, n in (("train", "a", 3), ("test", "a", 1))],
        tmp_path / "bars.png",
    )
    for name in ("maps", "filters", "saliency", "empty", "bars"):
        pixels = np.asarray(Image.open(tmp_path / f"{name}.png").convert("L"), dtype=float)
        assert pixels.std() > 5, name


def test_a_mixed_precision_model_is_pictured_in_float32(tmp_path, tiny_params, tiny_arrays):
    stats = NormalizationStats(True, (100.0,), (900.0,))
    model = build_model(16, 3, tiny_params.model, stats, precision="mixed_bfloat16")
    seen = trace(model, tiny_arrays[0][:2])
    assert {a.dtype for a in (*seen.activations.values(), *seen.gradients.values())} == {np.dtype("float32")}
    map_grid(seen.activations["conv_1"], ["a", "b"], "t", tmp_path / "maps.png", 4, "viridis")
    assert (tmp_path / "maps.png").stat().st_size > 0


def test_class_names_are_drawn_as_text_never_as_mathtext(tmp_path):
    names = ["$\\foo_{$", "a$b$c"]  # mathtext would fail on the first and typeset the second
    counts = [{"split": s, "class": c, "count": 3} for s in ("train", "val", "test") for c in names]
    class_count_bars(counts, tmp_path / "bars.png")
    assert np.asarray(Image.open(tmp_path / "bars.png").convert("L"), dtype=float).std() > 5
