"""Stage visualize: activations, activation gradients, filters, saliency, mistakes, class counts."""

import json

import pandas as pd

from starrec import paths
from starrec.atomic import atomic_path, write_json
from starrec.ingest import load_classes
from starrec.model import load_model
from starrec.params import load_params
from starrec.records import read_arrays
from starrec.stage import run_stage
from starrec.visualize import (
    class_count_bars,
    filter_grid,
    image_grid,
    map_grid,
    pick_examples,
    trace,
    value_range,
)

MISTAKES_SHOWN = 20


def main() -> None:
    params = load_params(paths.PARAMS)
    classes = load_classes(paths.INTERIM)
    model = load_model(paths.MODEL)
    images, labels, ids = read_arrays(paths.SPLIT / "test", params.image.size)
    chosen = pick_examples(labels, params.visualize.images)
    seen = trace(model, images[chosen])
    rows = [f"{classes[labels[i]]} → {classes[p]}" for i, p in zip(chosen, seen.predicted)]
    ranges = {}
    with atomic_path(paths.VISUALS) as out:
        for layer, activations in seen.activations.items():
            gradients = seen.gradients[layer]
            ranges[layer] = {"activation": value_range(activations), "gradient": value_range(gradients)}
            a, g = ranges[layer]["activation"], ranges[layer]["gradient"]
            map_grid(activations, rows, f"{layer} activations (max {a['max']:.4g}, min {a['min']:.4g})",
                     out / f"activations_{layer}.png", params.visualize.feature_maps, "viridis")
            map_grid(gradients, rows, f"{layer} activation gradients (max {g['max']:.4g}, min {g['min']:.4g})",
                     out / f"gradients_{layer}.png", params.visualize.feature_maps, "coolwarm")
        first_conv = next(iter(seen.activations))
        filter_grid(model.get_layer(first_conv).get_weights()[0], f"{first_conv} filters", out / f"filters_{first_conv}.png")
        image_grid(images[chosen], rows, "Saliency |dS/dx| of the predicted class", out / "saliency.png", seen.saliency)
        predictions = pd.read_csv(paths.PREDICTIONS, keep_default_na=False, dtype={"actual": str, "predicted": str})
        wrong = predictions[predictions["actual"] != predictions["predicted"]].head(MISTAKES_SHOWN)
        position = {example_id: index for index, example_id in enumerate(ids)}
        image_grid(images[[position[i] for i in wrong["id"]]],
                   [f"true {r.actual}\npred {r.predicted} ({r.confidence:.0%})" for r in wrong.itertuples()],
                   f"Misclassified test images ({len(wrong)} shown)", out / "misclassified.png")
        class_count_bars(json.loads(paths.SPLIT_COUNTS.read_text(encoding="utf-8")), out / "split_counts.png")
        write_json(out / "ranges.json", ranges)
    print(f"visualize: {len(chosen)} test images, conv layers {list(ranges)}, {len(wrong)} mistakes shown")


if __name__ == "__main__":
    run_stage(main)
