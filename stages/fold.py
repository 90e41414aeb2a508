"""Stage fold@P: part P of the K-fold CV over train+val, every len(kfold.parts)-th fold (a killed
run resumes at its first unfinished fold) -> data/kfold/part-P.json."""

import sys

from starrec import artifacts
from starrec.atomic import write_json
from starrec.cv.fold import FoldData, FoldPart, FoldSettings, train_folds
from starrec.params import load_params
from starrec.stage import run_stage
from starrec.train.distribute import local_strategy


def main() -> None:
    params, part = load_params(artifacts.PARAMS), int(sys.argv[1])
    data = FoldData.from_splits(params.image.size)
    run = FoldPart(
        part=part,
        parts=len(params.kfold.parts),
        backup_dir=artifacts.BACKUPS / "kfold" / f"part-{part}",
        strategy=local_strategy(params.train.distribute),
    )
    settings = FoldSettings(params.kfold.k, params.seed, params.augment, params.model, params.train, params.runtime)
    result = train_folds(data, settings, run)
    write_json(artifacts.kfold_part(part), result)
    print(f"fold@{part}: folds {[fold['fold'] for fold in result['folds']]} of {result['n_folds']}")


if __name__ == "__main__":
    run_stage(main)
