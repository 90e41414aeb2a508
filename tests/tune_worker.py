"""One search process for tests/test_tune.py: ``python tune_worker.py STORAGE BACKUP_DIR TRIALS [PRUNER]``.

Runs :func:`starrec.tune.search.run_trials` on the tiny data of ``helpers.data.make_tiny_arrays`` (k = 2) with
``tune.storage`` = STORAGE (``-``: the journal file in BACKUP_DIR) and prints the numbers of the trials it
ran, as JSON, on its last line.
"""

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from helpers.data import from_arrays, make_tiny_arrays, make_tiny_params, replace
from starrec.cv.fold import FoldData, FoldSettings
from starrec.tune.search import WORKER, open_study, run_trials


def main() -> None:
    storage, backup_dir, trials = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    pruner = sys.argv[4] if len(sys.argv) > 4 else "median"
    images, labels = make_tiny_arrays()
    params = replace(
        make_tiny_params(), "tune", trials=trials, pruner=pruner, storage=None if storage == "-" else storage
    )
    data = FoldData(from_arrays(images, labels), labels, np.arange(len(labels)).astype(str), ["a", "b", "c"], "tiny")
    settings = FoldSettings(2, params.seed, params.augment, params.model, params.train)
    study = open_study(settings, params.tune, data.data_id, backup_dir)
    run_trials(study, data, settings, params.tune, backup_dir, shared=params.tune.storage is not None)
    mine = [trial.number for trial in study.trials if trial.user_attrs.get("worker") == WORKER]
    print(json.dumps(mine))


if __name__ == "__main__":
    main()
