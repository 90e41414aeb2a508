"""Stage split: stratified, seeded train/val/test TFRecords; duplicates stay together."""

from starrec import paths
from starrec.atomic import atomic_path, write_json
from starrec.manifest import load_classes, load_manifest
from starrec.params import load_params
from starrec.splits import SPLITS, split_counts, split_indices, write_splits
from starrec.stage import run_stage


def main() -> None:
    params = load_params(paths.PARAMS)
    manifest = load_manifest(paths.MANIFEST)
    labels = manifest["label"].to_numpy()
    fractions = {name: getattr(params.split, name) for name in SPLITS}
    chosen = split_indices(labels, manifest["sha256"].to_numpy(), fractions, params.seed)
    with atomic_path(paths.SPLIT) as split_dir:
        write_splits(paths.RECORDS, chosen, split_dir, params.image.shard_size)
    write_json(paths.SPLIT_COUNTS, split_counts(labels, chosen, load_classes(paths.INTERIM)))
    print("split: " + ", ".join(f"{name} {len(chosen[name])}" for name in SPLITS))


if __name__ == "__main__":
    run_stage(main)
