"""Stage fold@P: part P of the K-fold CV over train+val, every len(kfold.parts)-th fold (a killed
run resumes at its first unfinished fold) -> data/kfold/part-P.json."""

import sys

import numpy as np

from starrec import paths
from starrec.atomic import write_json
from starrec.data.manifest import group_by_id, load_classes
from starrec.data.records import content_hash, read_labels_and_ids, read_records
from starrec.evaluation.fold import FoldData, FoldRun, train_folds
from starrec.params import load_params
from starrec.stage import run_stage
from starrec.train.distribute import local_strategy


def main() -> None:
    params, part = load_params(paths.PARAMS), int(sys.argv[1])
    train, val = paths.TRAIN_SPLIT, paths.VAL_SPLIT
    examples = read_records(train, params.image.size).concatenate(read_records(val, params.image.size))
    labels, ids = (np.concatenate(column) for column in zip(read_labels_and_ids(train), read_labels_and_ids(val)))
    data = FoldData(
        examples,
        labels,
        group_by_id(paths.MANIFEST, ids),
        load_classes(paths.INTERIM),
        data_id=content_hash(train, val),
    )
    run = FoldRun(
        part=part,
        parts=len(params.kfold.parts),
        backup_dir=paths.BACKUPS / "kfold" / f"part-{part}",
        strategy=local_strategy(params.train.distribute),
    )
    result = train_folds(data, params.kfold.k, params.seed, params.augment, params.model, params.train, run)
    write_json(paths.KFOLD_PARTS / f"part-{part}.json", result)
    print(f"fold@{part}: folds {[fold['fold'] for fold in result['folds']]} of {result['n_folds']}")


if __name__ == "__main__":
    run_stage(main)
