"""Look inside the CNN (the lecture's opening slide) and at its mistakes.

For a batch of images, :func:`trace` runs the model layer by layer under one
gradient tape and returns, per conv layer, the activations A and the
activation gradients dS/dA, where S is the logit of each image's predicted
class; the saliency map is max over channels of |dS/dx| for the input x.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import matplotlib
import numpy as np
import pandas as pd
import tensorflow as tf

from starrec.train.network import conv_layer_names

MISTAKES_SHOWN = 20

matplotlib.use("Agg")
matplotlib.rcParams["text.parse_math"] = False  # labels come from data (class names): never mathtext
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the headless backend)


@dataclass
class Trace:
    """Per conv layer name: activations and activation gradients, shape (images, h, w, channels)."""

    activations: dict[str, np.ndarray]
    gradients: dict[str, np.ndarray]
    saliency: np.ndarray
    predicted: np.ndarray


def trace(model: keras.Model, images: np.ndarray) -> Trace:
    """Activations, activation gradients and input saliency of the predicted class."""
    conv_names = conv_layer_names(model)
    x = tf.convert_to_tensor(images, tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        hidden, watched = x, {}
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            hidden = layer(hidden, training=False)
            if layer.name in conv_names:
                tape.watch(hidden)
                watched[layer.name] = hidden
            if layer.name == "logits":
                logits = hidden
        predicted = tf.argmax(logits, axis=1)
        score = tf.reduce_sum(tf.gather(logits, predicted, axis=1, batch_dims=1))
    gradients = tape.gradient(score, [x, *watched.values()])
    del tape
    return Trace(
        activations={name: value.numpy().astype(np.float32) for name, value in watched.items()},
        gradients={name: g.numpy().astype(np.float32) for name, g in zip(watched, gradients[1:], strict=True)},
        saliency=np.abs(gradients[0].numpy()).max(axis=-1),
        predicted=predicted.numpy(),
    )


def saliency_function(model: keras.Model) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """One compiled call for a batch of images: (class probabilities, saliency), the saliency as in
    :func:`trace` (max over channels of |dS/dx|, S the predicted class's logit), for serving."""
    outputs = keras.Model(model.inputs, [model.get_layer("logits").output, model.output])

    @tf.function(input_signature=[tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)])
    def run(images):
        with tf.GradientTape() as tape:
            tape.watch(images)
            logits, probabilities = outputs(images, training=False)
            score = tf.reduce_sum(tf.gather(logits, tf.argmax(logits, axis=1), axis=1, batch_dims=1))
        return probabilities, tf.reduce_max(tf.abs(tape.gradient(score, images)), axis=-1)

    def call(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        probabilities, saliency = run(tf.convert_to_tensor(images, tf.float32))
        return probabilities.numpy(), saliency.numpy().astype(np.float32)

    return call


def pick_examples(labels: np.ndarray, count: int) -> np.ndarray:
    """``count`` indices (fewer if there are fewer, more if it takes more to show every class), deterministic:
    the first of each class, then the next ones in order."""
    firsts = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)]
    rest = [i for i in range(len(labels)) if i not in set(firsts)]
    return np.asarray((firsts + rest)[: max(count, len(firsts))], dtype=np.int64)


def value_range(values: np.ndarray) -> dict[str, float]:
    return {"max": float(values.max()), "min": float(values.min())}


def _save(figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(figure)


def map_grid(maps: np.ndarray, row_titles: list[str], title: str, path: Path, columns: int, cmap: str) -> None:
    """A grid: one row per image, its first ``columns`` channels of ``maps`` (images, h, w, channels), each
    map coloured over its own range (as ``imshow`` scales one image). Drawn as one picture in one axes: one
    axes per map took 2 s a grid in matplotlib, most of the stage."""
    columns = min(columns, maps.shape[-1])
    cells = np.moveaxis(maps[..., :columns].astype(np.float32), -1, 1)  # (images, columns, h, w)
    low = cells.min(axis=(2, 3), keepdims=True)
    span = cells.max(axis=(2, 3), keepdims=True) - low
    scaled = np.divide(cells - low, span, out=np.zeros_like(cells), where=span > 0)
    colours = matplotlib.colormaps[cmap](scaled)[..., :3]  # (images, columns, h, w, RGB)
    rows, height, width = cells.shape[0], cells.shape[2], cells.shape[3]
    gap = max(1, height // 8)  # white between the maps
    mosaic = np.ones((rows, height + gap, columns, width + gap, 3))
    mosaic[:, :height, :, :width] = colours.transpose(0, 2, 1, 3, 4)
    mosaic = mosaic.reshape(rows * (height + gap), columns * (width + gap), 3)[:-gap, :-gap]
    figure, axis = plt.subplots(figsize=(1.3 * columns, 1.3 * rows))
    axis.imshow(mosaic, interpolation="nearest")
    axis.set_xticks([])
    axis.set_yticks([row * (height + gap) + (height - 1) / 2 for row in range(rows)], row_titles, fontsize=7)
    axis.tick_params(length=0)
    for spine in axis.spines.values():
        spine.set_visible(False)
    figure.suptitle(title, fontsize=9)
    _save(figure, path)


def image_grid(
    images: np.ndarray, captions: list[str], title: str, path: Path, overlay: np.ndarray | None = None
) -> None:
    """Images (uint8 RGB) with captions, optionally with a heat map drawn over each."""
    columns = min(5, max(1, len(images)))
    rows = max(1, -(-len(images) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(2.0 * columns, 2.2 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for index, (image, caption) in enumerate(zip(images, captions, strict=True)):
        axis = axes.flat[index]
        axis.imshow(image)
        if overlay is not None:
            axis.imshow(overlay[index], cmap="inferno", alpha=0.6)
        axis.set_title(caption, fontsize=7)
    if len(images) == 0:
        axes.flat[0].text(0.5, 0.5, "none", ha="center", va="center")
    figure.suptitle(title, fontsize=9)
    _save(figure, path)


def filter_grid(kernel: np.ndarray, title: str, path: Path) -> None:
    """A conv kernel (kh, kw, in, out) as one small image per output filter (mean over inputs)."""
    filters = kernel.mean(axis=2).transpose(2, 0, 1)
    columns = min(8, len(filters))
    rows = -(-len(filters) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(1.0 * columns, 1.0 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, weights in zip(axes.flat, filters, strict=False):
        axis.imshow(weights, cmap="coolwarm", vmin=-np.abs(filters).max(), vmax=np.abs(filters).max())
    figure.suptitle(title, fontsize=9)
    _save(figure, path)


def class_count_bars(counts: list[dict], path: Path) -> None:
    """Grouped bars of images per class in train / val / test (rows of split, class, count)."""
    classes = list(dict.fromkeys(row["class"] for row in counts))
    splits = list(dict.fromkeys(row["split"] for row in counts))
    width = 0.8 / len(splits)
    figure, axis = plt.subplots(figsize=(max(4, 0.6 * len(classes)), 3))
    for number, split in enumerate(splits):
        values = [next(r["count"] for r in counts if r["split"] == split and r["class"] == c) for c in classes]
        axis.bar(np.arange(len(classes)) + number * width, values, width, label=split)
    axis.set_xticks(np.arange(len(classes)) + 0.4 - width / 2, classes, rotation=45, ha="right")
    axis.set_ylabel("images")
    axis.legend()
    axis.set_title("Images per class and split")
    _save(figure, path)


def misclassified(
    predictions: pd.DataFrame, ids: np.ndarray, limit: int = MISTAKES_SHOWN
) -> tuple[np.ndarray, list[str]]:
    """Positions in ``ids`` of the first ``limit`` wrong rows of ``predictions``, with captions."""
    wrong = predictions[predictions["actual"] != predictions["predicted"]].head(limit)
    position = {example_id: index for index, example_id in enumerate(ids)}
    captions = [f"true {r.actual}\npred {r.predicted} ({r.confidence:.0%})" for r in wrong.itertuples()]
    return np.asarray([position[i] for i in wrong["id"]], dtype=np.int64), captions


def images_at(examples: tf.data.Dataset, positions: np.ndarray) -> np.ndarray:
    """The images at ``positions`` of a stream of examples, in that order (read until all are found)."""
    wanted, found = set(positions.tolist()), dict[int, np.ndarray]()
    for index, example in enumerate(examples.as_numpy_iterator()):
        if len(found) == len(wanted):
            break
        if index in wanted:
            found[index] = example["image"]
    shape = examples.element_spec["image"].shape
    return np.stack([found[p] for p in positions.tolist()]) if len(positions) else np.zeros((0, *shape), np.uint8)


def write_visuals(
    model: keras.Model,
    examples: tf.data.Dataset,
    labels: np.ndarray,
    ids: np.ndarray,
    classes: list[str],
    predictions: pd.DataFrame,
    split_counts: list[dict],
    out: Path,
    n_images: int,
    feature_maps: int,
) -> dict:
    """Every picture of the visualize stage into ``out``; returns each conv layer's activation and gradient
    ranges (metrics/visual_ranges.json: numbers beside the pictures, not a chart among them).

    Per conv layer: activations and activation gradients of ``n_images`` test
    images (one per class first); the first layer's filters; saliency; the
    misclassified images; images per class and split. Only the pictured
    images are held in memory.
    """
    chosen = pick_examples(labels, n_images)
    wrong, captions = misclassified(predictions, ids)
    pictured = images_at(examples, np.concatenate([chosen, wrong]))
    images, wrong_images = pictured[: len(chosen)], pictured[len(chosen) :]
    seen = trace(model, images)
    rows = [f"{classes[labels[i]]} → {classes[p]}" for i, p in zip(chosen, seen.predicted, strict=True)]
    ranges = {}
    for layer, activations in seen.activations.items():
        gradients = seen.gradients[layer]
        ranges[layer] = {"activation": value_range(activations), "gradient": value_range(gradients)}
        a, g = ranges[layer]["activation"], ranges[layer]["gradient"]
        map_grid(
            activations,
            rows,
            f"{layer} activations (max {a['max']:.4g}, min {a['min']:.4g})",
            out / f"activations_{layer}.png",
            feature_maps,
            "viridis",
        )
        map_grid(
            gradients,
            rows,
            f"{layer} activation gradients (max {g['max']:.4g}, min {g['min']:.4g})",
            out / f"gradients_{layer}.png",
            feature_maps,
            "coolwarm",
        )
    first_conv = next(iter(seen.activations))
    filter_grid(
        model.get_layer(first_conv).get_weights()[0], f"{first_conv} filters", out / f"filters_{first_conv}.png"
    )
    image_grid(images, rows, "Saliency |dS/dx| of the predicted class", out / "saliency.png", seen.saliency)
    image_grid(wrong_images, captions, f"Misclassified test images ({len(wrong)} shown)", out / "misclassified.png")
    class_count_bars(split_counts, out / "split_counts.png")
    return ranges
