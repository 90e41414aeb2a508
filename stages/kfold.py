"""Stage kfold: stratified K-fold cross validation over train+val, a fresh model per fold."""

import numpy as np

from starrec import paths
from starrec.atomic import write_json
from starrec.kfold import cross_validate
from starrec.manifest import load_classes, sha256_by_id
from starrec.params import load_params
from starrec.records import read_arrays
from starrec.stage import run_stage


def main() -> None:
    params = load_params(paths.PARAMS)
    parts = [read_arrays(paths.SPLIT / name, params.image.size) for name in ("train", "val")]
    images, labels, ids = (np.concatenate(column) for column in zip(*parts))
    result = cross_validate(
        images,
        labels,
        sha256_by_id(paths.MANIFEST, ids),
        len(load_classes(paths.INTERIM)),
        params.kfold.k,
        params.seed,
        params.augment,
        params.model,
        params.train,
    )
    report = result.report()
    write_json(paths.KFOLD, report)
    accuracy, f1 = report["accuracy"], report["f1_macro"]
    print(
        f"kfold: k={report['k']} accuracy {accuracy['mean']:.4f} ± {accuracy['std']:.4f}, "
        f"macro F1 {f1['mean']:.4f} ± {f1['std']:.4f}"
    )


if __name__ == "__main__":
    run_stage(main)
