"""Stage tune: search the tune.* ranges by K-fold on train + val with Optuna (a killed search resumes)
-> metrics/tune.json, metrics/tune/{history,importance}.json. `python stages/tune.py --worker`: one more
worker of a shared study (tune.storage: a database URL) that writes nothing."""

import sys

from starrec import artifacts
from starrec.atomic import write_json
from starrec.cv.fold import FoldData, FoldSettings
from starrec.params import load_params
from starrec.stage import run_stage
from starrec.tune.search import history, importances, nested_cv, open_study, report, run_trials


def main() -> None:
    params = load_params(artifacts.PARAMS)
    data = FoldData.from_splits(params.image.size)
    settings = FoldSettings(params.kfold.k, params.seed, params.augment, params.model, params.train, params.runtime)
    tune = params.tune
    study = open_study(settings, tune, data.data_id, artifacts.TUNE_STUDY)
    run_trials(study, data, settings, tune, artifacts.TUNE_STUDY, shared=tune.storage is not None)
    if sys.argv[1:] == ["--worker"]:
        print(f"tune worker: study {study.study_name} has its trials")
        return
    result = report(study, settings.k)
    if tune.nested_folds:
        result["nested"] = nested_cv(data, settings, tune, artifacts.TUNE_STUDY / "nested")
    write_json(artifacts.TUNE_HISTORY, history(study))
    write_json(artifacts.TUNE_IMPORTANCE, importances(study))
    write_json(artifacts.TUNE, result)
    print(
        f"tune: best {settings.k}-fold accuracy {result['best_accuracy']:.4f} (trial {result['best_trial']} of "
        f"{result['trials']}; optimistic: {artifacts.TUNE} says why): {result['best_params']}; `starrec tune apply`"
    )
    if result["failed"]:
        print(f"tune: {len(result['failed'])} trial(s) failed and were skipped: {'; '.join(result['failed'])}")


if __name__ == "__main__":
    run_stage(main)
