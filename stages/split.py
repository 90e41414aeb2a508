"""Stage split: stratified, seeded train/val/test TFRecords; duplicates stay together."""

import pandas as pd

from starrec import paths
from starrec.atomic import atomic_path, write_json
from starrec.manifest import load_classes, sha256_by_id
from starrec.params import load_params
from starrec.records import read_arrays, write_shards
from starrec.splits import SPLITS, split_indices
from starrec.stage import run_stage


def main() -> None:
    params = load_params(paths.PARAMS)
    images, labels, ids = read_arrays(paths.RECORDS, params.image.size)
    sha256 = sha256_by_id(paths.MANIFEST, ids)
    fractions = {name: getattr(params.split, name) for name in SPLITS}
    chosen = split_indices(labels, sha256, fractions, params.seed)
    classes = load_classes(paths.INTERIM)
    counts = []
    with atomic_path(paths.SPLIT) as split_dir:
        for name in SPLITS:
            picked = chosen[name]
            write_shards(zip(images[picked], labels[picked], ids[picked]), split_dir / name, params.image.shard_size)
            per_class = pd.Series(labels[picked]).value_counts()
            counts += [{"split": name, "class": c, "count": int(per_class.get(i, 0))} for i, c in enumerate(classes)]
    write_json(paths.SPLIT_COUNTS, counts)
    print("split: " + ", ".join(f"{name} {len(chosen[name])}" for name in SPLITS))


if __name__ == "__main__":
    run_stage(main)
