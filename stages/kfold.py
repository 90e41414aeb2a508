"""Stage kfold: the fold@P parts put together -> metrics/kfold.json (mean ± std over the folds, pooled)."""

import json

from starrec import paths
from starrec.atomic import write_json
from starrec.crossval import collect_folds
from starrec.params import load_params
from starrec.stage import run_stage


def main() -> None:
    params = load_params(paths.PARAMS)
    parts = [paths.KFOLD_PARTS / f"part-{part}.json" for part in params.kfold.parts]
    result = collect_folds([json.loads(path.read_text(encoding="utf-8")) for path in parts])
    write_json(paths.KFOLD, result.report())
    print(f"kfold: {result.summary_line()}")


if __name__ == "__main__":
    run_stage(main)
