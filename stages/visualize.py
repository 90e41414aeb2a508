"""Stage visualize: activations, activation gradients, filters, saliency, mistakes, class counts (visuals/);
the activations' and gradients' ranges (metrics/visual_ranges.json)."""

import json

from starrec import artifacts
from starrec.atomic import atomic_path, write_json
from starrec.data.manifest import load_classes
from starrec.data.records import read_labels_and_ids, read_records
from starrec.evaluation.predictions import read_predictions
from starrec.evaluation.visualize import pick_examples, write_visuals
from starrec.params import load_params
from starrec.stage import run_stage
from starrec.train.model_file import load_model


def main() -> None:
    params = load_params(artifacts.PARAMS)
    labels, ids = read_labels_and_ids(artifacts.TEST_SPLIT)
    predictions = read_predictions(artifacts.PREDICTIONS)
    split_counts = json.loads(artifacts.SPLIT_COUNTS.read_text(encoding="utf-8"))
    with atomic_path(artifacts.VISUALS) as out:
        ranges = write_visuals(
            load_model(artifacts.MODEL),
            read_records(artifacts.TEST_SPLIT, params.image.size),
            labels,
            ids,
            load_classes(artifacts.INTERIM),
            predictions,
            split_counts,
            out,
            params.visualize.images,
            params.visualize.feature_maps,
        )
    write_json(artifacts.VISUAL_RANGES, ranges)
    shown = len(pick_examples(labels, params.visualize.images))
    note = "" if shown == params.visualize.images else f" (visualize.images {params.visualize.images}; one per class)"
    print(f"visualize: {shown} test images{note}, conv layers {list(ranges)}")


if __name__ == "__main__":
    run_stage(main)
