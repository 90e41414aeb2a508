"""Stage fold@P: part P of the K-fold CV over train+val, every len(kfold.parts)-th fold (a killed
run resumes at its first unfinished fold) -> data/kfold/part-P.json."""

import sys

from starrec import paths
from starrec.atomic import write_json
from starrec.evaluation.fold import FoldData, FoldRun, FoldSettings, train_folds
from starrec.params import load_params
from starrec.stage import run_stage
from starrec.train.distribute import local_strategy


def main() -> None:
    params, part = load_params(paths.PARAMS), int(sys.argv[1])
    data = FoldData.from_splits(paths.TRAIN_SPLIT, paths.VAL_SPLIT, paths.MANIFEST, paths.INTERIM, params.image.size)
    run = FoldRun(
        part=part,
        parts=len(params.kfold.parts),
        backup_dir=paths.BACKUPS / "kfold" / f"part-{part}",
        strategy=local_strategy(params.train.distribute),
    )
    settings = FoldSettings(params.kfold.k, params.seed, params.augment, params.model, params.train)
    result = train_folds(data, settings, run)
    write_json(paths.KFOLD_PARTS / f"part-{part}.json", result)
    print(f"fold@{part}: folds {[fold['fold'] for fold in result['folds']]} of {result['n_folds']}")


if __name__ == "__main__":
    run_stage(main)
