"""Stage kfold: stratified K-fold CV over train+val (a killed run resumes at its first unfinished fold)."""

import numpy as np

from starrec import paths
from starrec.atomic import write_json
from starrec.distribute import local_strategy
from starrec.kfold import cross_validate
from starrec.manifest import group_by_id, load_classes
from starrec.params import load_params
from starrec.records import content_hash, read_labels_and_ids, read_records
from starrec.stage import run_stage


def main() -> None:
    params = load_params(paths.PARAMS)
    train, val = paths.SPLIT / "train", paths.SPLIT / "val"
    examples = read_records(train, params.image.size).concatenate(read_records(val, params.image.size))
    labels, ids = (np.concatenate(column) for column in zip(read_labels_and_ids(train), read_labels_and_ids(val)))
    result = cross_validate(
        examples,
        labels,
        group_by_id(paths.MANIFEST, ids),
        load_classes(paths.INTERIM),
        params.kfold.k,
        params.seed,
        params.augment,
        params.model,
        params.train,
        backup_dir=paths.BACKUPS / "kfold",
        data_id=content_hash(train, val),
        strategy=local_strategy(params.train.distribute),
    )
    write_json(paths.KFOLD, result.report())
    print(f"kfold: {result.summary_line()}")


if __name__ == "__main__":
    run_stage(main)
