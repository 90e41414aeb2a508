"""Stage kfold: the fold@P parts put together -> metrics/kfold.json (mean ± std over the folds, pooled)."""

from starrec import artifacts
from starrec.atomic import write_json
from starrec.cv.kfold import collect_folds, load_parts
from starrec.params import load_params
from starrec.stage import run_stage


def main() -> None:
    params = load_params(artifacts.PARAMS)
    result = collect_folds(load_parts(artifacts.KFOLD_PARTS, params.kfold.parts))
    report = result.report()
    write_json(artifacts.KFOLD, report)
    write_json(artifacts.SCORES_KFOLD, artifacts.kfold_headline(report))
    print(f"kfold: {result.summary_line()}")


if __name__ == "__main__":
    run_stage(main)
