"""Stage split: stratified, seeded train/val/test TFRecords; copies of a picture stay together."""

from starrec import artifacts
from starrec.atomic import atomic_path, write_json
from starrec.data.manifest import load_classes, load_manifest
from starrec.data.split import SPLITS, split_counts, split_indices, write_splits
from starrec.params import load_params
from starrec.stage import run_stage


def main() -> None:
    params = load_params(artifacts.PARAMS)
    manifest = load_manifest(artifacts.MANIFEST)
    labels = manifest["label"].to_numpy()
    fractions = {name: getattr(params.split, name) for name in SPLITS}
    classes = load_classes(artifacts.INTERIM)
    chosen = split_indices(labels, manifest["group"].to_numpy(), fractions, params.seed, classes)
    with atomic_path(artifacts.SPLIT) as split_dir:
        write_splits(artifacts.RECORDS, chosen, split_dir, params.image.shard_size)
    write_json(artifacts.SPLIT_COUNTS, split_counts(labels, chosen, classes))
    print("split: " + ", ".join(f"{name} {len(chosen[name])}" for name in SPLITS))


if __name__ == "__main__":
    run_stage(main)
