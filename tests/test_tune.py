"""The search (Optuna over K-fold), its resume and workers, and the learning curve's diagnosis."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import TrialState

from helpers.data import from_arrays, replace
from helpers.project import ENV, ROOT
from starrec.cv.fold import FoldData, FoldSettings, train_folds
from starrec.cv.learning_curve import diagnose, learning_curve, sample
from starrec.errors import MissingInput, StarrecError
from starrec.params import LearningCurveParams, ParamsError, load_params, parse_params, render_params_yaml
from starrec.tune.results import apply_best, search_lines
from starrec.tune.search import SEARCH_LOCK, TuneError, history, importances, nested_cv, open_study, report, run_trials
from starrec.tune.space import current_values, exp_run_command, grid, searched, suggest, with_values

WORKER = [sys.executable, str(ROOT / "tests" / "tune_worker.py")]


def settings_of(params, k=2) -> FoldSettings:
    return FoldSettings(k, params.seed, params.augment, params.model, params.train)


def tiny_data(tiny_arrays) -> FoldData:
    images, labels = tiny_arrays
    return FoldData(from_arrays(images, labels), labels, np.arange(len(labels)).astype(str), ["a", "b", "c"], "tiny")


def test_a_trial_suggests_each_searched_key_in_its_range_and_leaves_the_rest():
    tune = parse_params({"tune": {"dropout": [0.1, 0.5], "batch_size": [8, 16]}}).tune
    assert set(searched(tune)) == {
        "train.momentum",
        "train.momentum_schedule.end",
        "train.momentum_schedule.rate",
        "train.learning_rate",
        "model.dropout",
        "train.batch_size",
    }
    fixed = {
        "train.momentum": 0.8,
        "train.momentum_schedule.end": 0.1,
        "train.momentum_schedule.rate": 0.7,
        "train.learning_rate": 0.01,
        "model.dropout": 0.2,
        "train.batch_size": 16,
    }
    values = suggest(optuna.trial.FixedTrial(fixed), tune)
    assert values == fixed
    params = with_values(parse_params({}), values)
    assert params.train.momentum == 0.8 and params.train.momentum_schedule.end == 0.1
    assert params.model.dropout == 0.2 and params.train.batch_size == 16 and params.train.epochs == 15
    assert exp_run_command({"train.momentum": 0.8, "train.batch_size": 16}) == (
        "dvc exp run -S train.batch_size=16 -S train.momentum=0.8"
    )


def test_the_grid_spreads_each_range_and_the_learning_rate_geometrically():
    tune = parse_params({"tune": {"momentum_end": None, "momentum_rate": None, "grid_points": 3}}).tune
    assert grid(tune) == {"train.momentum": [0.5, 0.745, 0.99], "train.learning_rate": [0.002, 0.0141421356, 0.1]}


def test_the_first_trial_is_the_params_as_they_are_and_constant_momentum_is_end_equal_start(tiny_params):
    values = current_values(settings_of(tiny_params), tiny_params.tune)
    assert values == {
        "train.momentum": 0.9,
        "train.momentum_schedule.end": 0.9,  # null: constant
        "train.momentum_schedule.rate": 0.9,
        "train.learning_rate": 0.01,
    }


@pytest.mark.parametrize(
    ("tune", "message"),
    [
        (
            {"momentum": None, "momentum_end": None, "momentum_rate": None, "learning_rate": None},
            "tune: searches nothing",
        ),
        ({"momentum": [0.9, 0.5]}, r"tune.momentum: \[0.9, 0.5\]; allowed: null .* low < high"),
        ({"momentum": [0.5, 1.0]}, r"tune.momentum\[1\]|tune.momentum: 1.0 is out of range"),
        ({"nested_folds": 1}, "tune.nested_folds: 1; allowed: 0"),
        ({"batch_size": [8, 8]}, "tune.batch_size"),
        ({"storage": "postgresql://me:secret@db/study"}, "tune.storage: holds a password, which dvc.lock and git"),
        ({"storage": "postgresql://me@db/study?password=secret"}, "tune.storage: holds a password"),
        ({"storage": "mysql+pymysql://me@db/study?charset=utf8&PASSWD=x"}, "tune.storage: holds a password"),
        ({"storage": "postgresql://me@db/study?sslmode=require&pwd=x"}, "tune.storage: holds a password"),
    ],
)
def test_a_bad_search_space_is_refused_by_key(tune, message):
    with pytest.raises(ParamsError, match=message):
        parse_params({"tune": tune})


def test_learning_curve_fractions_must_increase():
    with pytest.raises(ParamsError, match=r"learning_curve.fractions: \[0.5, 0.25\]"):
        parse_params({"learning_curve": {"fractions": [0.5, 0.25]}})


def point(train: float, validation: float) -> dict:
    return {"train": {"mean": train, "std": 0.0}, "validation": {"mean": validation, "std": 0.0}}


@pytest.mark.parametrize(
    ("points", "diagnosis", "words"),
    [
        ([point(0.80, 0.70), point(0.82, 0.80)], "high bias", "Underfitting: a bigger network"),
        ([point(1.00, 0.60), point(1.00, 0.80)], "high variance", "Overfitting: more data or augmentation"),
        ([point(0.90, 0.70), point(0.90, 0.80)], "high bias and high variance", "Underfitting"),
        ([point(0.99, 0.90), point(0.99, 0.97)], "good fit", "Training and validation agree"),
    ],
)
def test_the_diagnosis_reads_the_gap_and_the_training_score(points, diagnosis, words):
    found = diagnose(points, LearningCurveParams(target_accuracy=0.95, max_gap=0.05))
    assert found["diagnosis"] == diagnosis and words in found["line"]
    assert found["gap"] == pytest.approx(points[-1]["train"]["mean"] - points[-1]["validation"]["mean"])
    assert found["rise"] == pytest.approx(points[-1]["validation"]["mean"] - points[0]["validation"]["mean"])
    if diagnosis == "high variance":
        assert "more data still helps" in found["line"]


def test_a_sample_keeps_and_leaves_out_one_image_of_every_class_on_small_data():
    labels = np.repeat(np.arange(3), 4)
    kept = sample(np.arange(12), labels, 0.5, seed=0, fold=0)
    assert len(kept) == 6 and sorted(np.bincount(labels[kept])) == [2, 2, 2]
    assert sorted(np.bincount(labels[sample(np.arange(12), labels, 0.1, seed=0, fold=0)])) == [1, 1, 1]
    assert sorted(np.bincount(labels[sample(np.arange(12), labels, 0.95, seed=0, fold=0)])) == [3, 3, 3]
    assert list(sample(np.arange(3), np.asarray([0, 0, 1]), 0.5, seed=0, fold=0)) == [0, 1, 2]  # too few to sample
    assert list(sample(np.arange(6), np.asarray([0, 0, 0, 0, 0, 1]), 0.5, seed=0, fold=0)) == [0, 1, 2, 3, 4, 5]


@pytest.mark.slow
def test_the_learning_curve_trains_each_fraction_on_every_fold(tiny_params, tiny_arrays, tmp_path):
    limits = LearningCurveParams(fractions=[0.5, 1.0])
    curve = learning_curve(tiny_data(tiny_arrays), settings_of(tiny_params), limits, tmp_path)
    assert [point["fraction"] for point in curve["points"]] == [0.5, 1.0] and curve["k"] == 2
    assert [point["n_train"] for point in curve["points"]] == [6.0, 12.0]  # half of 12 per fold
    assert all(0 <= point[name]["mean"] <= 1 for point in curve["points"] for name in ("train", "validation"))
    assert curve["diagnosis"] in ("high bias", "high variance", "high bias and high variance", "good fit")
    assert len(list(tmp_path.glob("*.json"))) == 4  # each (fraction, fold) kept: a rerun trains none
    again = learning_curve(tiny_data(tiny_arrays), settings_of(tiny_params), limits, tmp_path)
    assert again == curve


def search(tmp_path: Path, tiny_params, tiny_arrays, **tune):
    params = replace(tiny_params, "tune", **tune)
    settings, data = settings_of(params), tiny_data(tiny_arrays)
    study = open_study(settings, params.tune, data.data_id, tmp_path)
    run_trials(study, data, settings, params.tune, tmp_path)
    return study


@pytest.mark.slow
def test_a_search_starts_from_the_params_and_reports_its_best(tiny_params, tiny_arrays, tmp_path):
    study = search(tmp_path / "a", tiny_params, tiny_arrays, trials=3, pruner="none")
    result = report(study, 2)
    first = study.trials[0]
    assert first.user_attrs["first"] and first.params == current_values(settings_of(tiny_params), tiny_params.tune)
    kfold = train_folds(tiny_data(tiny_arrays), settings_of(tiny_params))  # what the kfold stage computes
    assert first.value == np.mean([fold["score"]["accuracy"] for fold in kfold["folds"]])
    assert result["trials"] == 3 and result["pruned"] == 0 and result["fold_trainings"] == 6
    assert result["first_accuracy"] == first.value
    assert result["best_accuracy"] == max(trial.value for trial in study.trials) >= result["first_accuracy"]
    assert "optimistic" in result["caveat"]
    rows = history(study)
    assert [row["trial"] for row in rows] == [0, 1, 2]
    assert rows[-1]["best"] == result["best_accuracy"]
    assert (tmp_path / "a" / "study.journal").is_file()
    again = search(tmp_path / "b", tiny_params, tiny_arrays, trials=3, pruner="none")
    assert [trial.params for trial in again.trials] == [trial.params for trial in study.trials]  # seeded
    assert [trial.value for trial in again.trials] == [trial.value for trial in study.trials]


@pytest.mark.slow
def test_a_killed_search_resumes_without_repeating_a_finished_trial(tmp_path):
    """SIGKILL while a trial trains; the rerun fails that trial, runs its values again, and ends with the
    finished trials of a search that was never killed."""
    killed_dir = tmp_path / "killed"
    worker = subprocess.Popen(
        [*WORKER, "-", str(killed_dir), "4", "none"], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    journal = killed_dir / "study.journal"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        trials = finished_and_running(journal)
        if trials and trials[0] >= 2 and trials[1] == 1:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the search never had two finished trials and one running")
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    done = subprocess.run([*WORKER, "-", str(killed_dir), "4", "none"], env=ENV, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    straight = subprocess.run(
        [*WORKER, "-", str(tmp_path / "straight"), "4", "none"], env=ENV, capture_output=True, text=True
    )
    assert straight.returncode == 0, straight.stderr[-3000:]
    resumed, uninterrupted = (load(folder / "study.journal") for folder in (killed_dir, tmp_path / "straight"))
    failed = [trial for trial in resumed.trials if trial.state == TrialState.FAIL]
    assert len(failed) == 1
    finished = [trial for trial in resumed.trials if trial.state == TrialState.COMPLETE]
    assert len(finished) == 4
    assert [trial.params for trial in finished] == [trial.params for trial in uninterrupted.trials]
    assert [trial.value for trial in finished] == [trial.value for trial in uninterrupted.trials]
    retried = [trial for trial in finished if trial.system_attrs.get("failed_trial") == failed[0].number]
    if len(failed[0].params) == len(finished[0].params):  # killed while it trained: its values run again
        assert len(retried) == 1 and retried[0].params == failed[0].params
    else:  # killed between its suggestions: drawn afresh (the test below)
        assert retried == []


def finished_and_running(journal: Path) -> tuple[int, int] | None:
    if not journal.is_file():
        return None
    try:
        study = load(journal)
    except (KeyError, ValueError, optuna.exceptions.OptunaError):
        return None
    states = [trial.state for trial in study.trials]
    return states.count(TrialState.COMPLETE), states.count(TrialState.RUNNING)


def load(journal: Path) -> optuna.Study:
    storage = JournalStorage(JournalFileBackend(str(journal)))
    (name,) = [summary.study_name for summary in optuna.get_all_study_summaries(storage)]
    return optuna.load_study(study_name=name, storage=storage)


POSTGRES_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))


@pytest.fixture
def postgres():
    """A real PostgreSQL server (Debian's postgresql) on a free port of 127.0.0.1, as the user postgres when
    this runs as root (the server refuses root); yields the SQLAlchemy URL of a new database."""
    from helpers.project import free_port

    if not POSTGRES_BIN:
        message = "needs Debian's postgresql (apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    bin_dir, port = POSTGRES_BIN[-1].parent, free_port()
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    home = Path(tempfile.mkdtemp(prefix="starrec-pg-"))  # pytest's tmp_path is closed to other users
    data = home / "data"
    if as_user:
        shutil.chown(home, "postgres")

    def pg(tool: str, *args) -> None:
        done = subprocess.run([*as_user, str(bin_dir / tool), *map(str, args)], capture_output=True, text=True)
        assert done.returncode == 0, f"{tool}: {done.stdout}{done.stderr}"

    try:
        pg("initdb", "-D", data, "-U", "postgres", "--auth=trust")
        pg(
            "pg_ctl",
            "-D",
            data,
            "-o",
            f"-p {port} -k {home} -c listen_addresses=127.0.0.1",
            "-w",
            "-l",
            home / "log",
            "start",
        )
        pg("createdb", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "study")
        yield f"postgresql://postgres@127.0.0.1:{port}/study"
    finally:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.slow
def test_two_workers_share_one_study_in_postgresql(postgres, tmp_path):
    workers = [
        subprocess.Popen(
            [*WORKER, postgres, str(tmp_path / f"w{n}"), "6"],
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    outputs = [worker.communicate(timeout=600) for worker in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-3000:]
    ran = [set(json.loads(out.splitlines()[-1])) for out, _ in outputs]
    assert ran[0] and ran[1] and not ran[0] & ran[1]  # both worked, no trial twice
    (summary,) = optuna.get_all_study_summaries(postgres)
    study = optuna.load_study(study_name=summary.study_name, storage=postgres)
    finished = [trial for trial in study.trials if trial.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert {trial.number for trial in finished} == ran[0] | ran[1]  # the union, nothing lost
    assert 6 <= len(finished) <= 7  # a race at the end may start one more
    assert len({json.dumps(trial.params, sort_keys=True) for trial in finished}) == len(finished)
    assert study.best_trial.value == max(trial.value for trial in finished if trial.state == TrialState.COMPLETE)


def test_apply_writes_the_best_values_into_params_yaml_and_the_summary_follows(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(render_params_yaml())
    best = {
        "train.momentum": 0.95,
        "train.momentum_schedule.end": 0.5,
        "train.momentum_schedule.rate": 0.8,
        "train.learning_rate": 0.01,
    }
    tune = {
        "k": 5,
        "best_accuracy": 0.99,
        "best_trial": 3,
        "best_params": best,
        "first_accuracy": 0.98,
        "trials": 8,
        "pruned": 2,
        "caveat": "optimistic: the best of 8 K-fold scores ...",
        "nested": {"outer_folds": 3, "accuracy": {"mean": 0.97, "std": 0.01}},
    }
    (tmp_path / "tune.json").write_text(json.dumps(tune))
    lines = "\n".join(search_lines(tune, load_params(path)))
    assert "best 5-fold accuracy 0.9900 (trial 3 of 8, 2 pruned; the params it started from: 0.9800)" in lines
    assert "optimistic" in lines and "nested 3-fold estimate of search + training: accuracy 0.9700 ± 0.0100" in lines
    assert "-S train.learning_rate=0.01 -S train.momentum=0.95 -S train.momentum_schedule.end=0.5" in lines
    changes = apply_best(path, tmp_path / "tune.json")
    assert changes == [
        "train.learning_rate: 0.02 -> 0.01",
        "train.momentum: 0.9 -> 0.95",
        "train.momentum_schedule.end: None -> 0.5",
        "train.momentum_schedule.rate: 0.9 -> 0.8",
    ]
    params = load_params(path)
    assert params.train.momentum == 0.95 and params.train.epochs == 15 and "# epsilon in" in path.read_text()
    assert "params.yaml holds the best trial's values" in "\n".join(search_lines(tune, params))
    assert apply_best(path, tmp_path / "tune.json") == []
    with pytest.raises(MissingInput, match=r"nothing.json: missing; run the search first"):
        apply_best(path, tmp_path / "nothing.json")
    (tmp_path / "tune.json").write_text(json.dumps(tune | {"best_params": {"train.momentun": 0.5}}))
    with pytest.raises(StarrecError, match=r"tune.json: best_params \['train.momentun'\] are not searched keys"):
        apply_best(path, tmp_path / "tune.json")
    (tmp_path / "tune.json").write_text('{"best_params": {"train.mom')
    with pytest.raises(StarrecError, match=r"tune.json: not valid JSON \(.*\); `dvc checkout .*tune.json` or re-run"):
        apply_best(path, tmp_path / "tune.json")


def test_summary_adds_the_search_and_the_diagnosis_and_says_what_is_missing(tmp_path, monkeypatch, capsys):
    from starrec.app.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["summary"]) == 1
    assert "metrics/test.json: missing; run `dvc repro` (make run) first" in capsys.readouterr().err
    (tmp_path / "params.yaml").write_text(render_params_yaml())
    (tmp_path / "metrics").mkdir()
    tune = {"k": 5, "best_accuracy": 0.99, "best_trial": 0, "best_params": {"train.momentum": 0.9}}
    tune |= {"first_accuracy": 0.99, "trials": 4, "pruned": 0, "caveat": "optimistic: the best of 4 ..."}
    (tmp_path / "metrics/tune.json").write_text(json.dumps(tune))
    (tmp_path / "metrics/learning_curve.json").write_text(json.dumps({"line": "good fit: training accuracy 0.990"}))
    assert main(["summary"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "tune: best 5-fold accuracy 0.9900 (trial 0 of 4, 0 pruned; the params it started from: 0.9900)",
        "  optimistic: the best of 4 ...",
        "  params.yaml holds the best trial's values: after `dvc repro`, the test score is theirs, measured once",
        "learning curve: good fit: training accuracy 0.990",
    ]


@pytest.mark.slow
def test_no_trial_starts_after_the_timeout(tiny_params, tiny_arrays, tmp_path):
    study = search(tmp_path, tiny_params, tiny_arrays, trials=5, timeout=1.0, pruner="none")
    assert [trial.state for trial in study.trials] == [TrialState.COMPLETE]  # the first one ran, none after


@pytest.mark.slow
def test_nested_cross_validation_searches_inside_each_outer_fold(tiny_params, tiny_arrays, tmp_path):
    params = replace(tiny_params, "tune", trials=2, pruner="none", nested_folds=2)
    nested = nested_cv(tiny_data(tiny_arrays), settings_of(params), params.tune, tmp_path)
    assert nested["outer_folds"] == 2 and [row["fold"] for row in nested["folds"]] == [0, 1]
    scores = [row["accuracy"] for row in nested["folds"]]
    assert nested["accuracy"]["mean"] == pytest.approx(np.mean(scores))
    assert all(set(row["params"]) == set(searched(params.tune)) for row in nested["folds"])
    assert all(0 <= row["inner_best_accuracy"] <= 1 for row in nested["folds"])


def test_importances_of_trials_that_all_scored_the_same_are_empty_not_nan():
    """Found by bench/pruning.py: on easy data every trial scored 1.0 and fANOVA stopped the stage (zero variance)."""
    study = optuna.create_study(direction="maximize")
    distributions = {
        "train.momentum": optuna.distributions.FloatDistribution(0.5, 0.99),
        "train.learning_rate": optuna.distributions.FloatDistribution(0.002, 0.1, log=True),
    }
    for momentum, rate in ((0.6, 0.01), (0.7, 0.02), (0.8, 0.05)):
        params = {"train.momentum": momentum, "train.learning_rate": rate}
        study.add_trial(optuna.create_trial(params=params, distributions=distributions, value=1.0))
    assert importances(study) == []
    study.add_trial(
        optuna.create_trial(
            params={"train.momentum": 0.9, "train.learning_rate": 0.03}, distributions=distributions, value=0.5
        )
    )
    found = importances(study)
    assert {row["param"] for row in found} == set(distributions) and all(
        np.isfinite(row["importance"]) for row in found
    )


@pytest.mark.slow
def test_a_database_that_cannot_be_opened_is_one_line_naming_tune_storage(tiny_params, tmp_path):
    params = replace(tiny_params, "tune", storage=f"sqlite:///{tmp_path}/no/such/folder/study.db")
    with pytest.raises(TuneError, match=r"^params.yaml: tune.storage: cannot open the database: \(sqlite3"):
        open_study(settings_of(params), params.tune, "tiny", tmp_path)


def test_a_floating_point_tie_keeps_the_earlier_trial():
    """The same fold scores summed in another order differ in the 17th digit: no better trial, no params rewrite."""
    study = optuna.create_study(direction="maximize")
    distribution = {"train.momentum": optuna.distributions.FloatDistribution(0.5, 0.99)}
    for number, (value, momentum) in enumerate([(0.4583333333333333, 0.9), (0.45833333333333337, 0.6)]):
        attrs = {"first": number == 0, "fold_accuracy": [value]}
        trial = optuna.trial.create_trial(
            value=value, params={"train.momentum": momentum}, distributions=distribution, user_attrs=attrs
        )
        study.add_trial(trial)
    assert report(study, k=1)["best_trial"] == 0
    study.add_trial(
        optuna.trial.create_trial(
            value=0.4583334, params={"train.momentum": 0.7}, distributions=distribution, user_attrs={}
        )
    )
    assert report(study, k=1)["best_trial"] == 2  # a real difference still wins


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Fixed parameter train.learning_rate with value 0.01 is out of range")  # trial 0
def test_diverging_trials_fail_with_their_reason_and_the_search_goes_on(tiny_params, tiny_arrays, tmp_path):
    """tune.learning_rate [20, 100] diverges on every trial but the first (the params as they are): each is
    recorded as FAIL naming the tune.* range, counts towards tune.trials, and a rerun does not retry them."""
    params = replace(replace(tiny_params, "train", epochs=6), "model", l2=1.0)  # weights that explode overflow
    study = search(tmp_path, params, tiny_arrays, trials=3, pruner="none", learning_rate=[20.0, 100.0])
    states = [trial.state for trial in study.trials]
    assert states == [TrialState.COMPLETE, TrialState.FAIL, TrialState.FAIL]
    result = report(study, 2)
    assert result["best_trial"] == 0 and len(result["failed"]) == 2
    assert result["failed"][0].startswith("trial 1: diverged with") and "tune.learning_rate" in result["failed"][0]
    again = search(tmp_path, params, tiny_arrays, trials=3, pruner="none", learning_rate=[20.0, 100.0])
    assert len(again.trials) == 3  # the finished search, resumed: nothing retried


@pytest.mark.parametrize(
    "write",
    [
        lambda path: path.write_text('{"op_code": 0, "worker'),  # cut mid-line
        lambda path: path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe"),  # not text
        lambda path: path.mkdir(),
        lambda path: path.write_text('{"op_code": 99, "worker_id": "x"}\n'),  # Optuna: "Should not reach."
        lambda path: path.write_text('{"a": 1}\n'),  # another program's JSON lines
    ],
    ids=["truncated", "binary", "directory", "unknown-operation", "foreign"],
)
def test_a_journal_that_cannot_be_read_is_one_line_saying_to_remove_it(tiny_params, tiny_arrays, tmp_path, write):
    write(tmp_path / "study.journal")
    with pytest.raises(
        TuneError, match=r"study.journal: not a readable Optuna journal \(.*\); remove it \(rm -r "
    ) as e:
        open_study(settings_of(tiny_params), tiny_params.tune, tiny_data(tiny_arrays).data_id, tmp_path)
    assert "\n" not in str(e.value)


def test_a_database_url_without_its_driver_is_one_line_naming_tune_storage(tiny_params, tmp_path):
    params = replace(tiny_params, "tune", storage="mysql://me@127.0.0.1/study")
    with pytest.raises(TuneError, match=r"^params.yaml: tune.storage: no driver for mysql:// here \(No module named"):
        open_study(settings_of(params), params.tune, "tiny", tmp_path)


def test_a_database_that_fails_mid_search_is_one_line_and_keeps_what_finished(tiny_params, tiny_arrays, tmp_path):
    database = tmp_path / "study.db"
    params = replace(tiny_params, "tune", storage=f"sqlite:///{database}", trials=2)
    settings, data = settings_of(params), tiny_data(tiny_arrays)
    study = open_study(settings, params.tune, data.data_id, tmp_path)
    database.write_bytes(b"not a database any more" * 100)  # as a server that went away answers
    with pytest.raises(TuneError, match=r"^params.yaml: tune.storage: the database stopped answering \(.*\); the"):
        run_trials(study, data, settings, params.tune, tmp_path)


def test_a_second_search_on_the_same_journal_is_refused(tiny_params, tiny_arrays, tmp_path):
    """Two processes on one journal would sample the same trials and change the result silently."""
    import fcntl

    settings, data = settings_of(tiny_params), tiny_data(tiny_arrays)
    study = open_study(settings, tiny_params.tune, data.data_id, tmp_path)
    with open(tmp_path / SEARCH_LOCK, "w") as running:  # the first search holds it
        fcntl.flock(running, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(TuneError, match=r"study.journal: another search is running on it; wait for it, or share"):
            run_trials(study, data, settings, tiny_params.tune, tmp_path)
    assert study.trials[0].state == TrialState.WAITING  # it trained nothing


def test_a_search_never_waits_on_its_own_journal_lock(tiny_params, tiny_arrays, tmp_path, monkeypatch):
    """Optuna locks the journal's writes with ``<journal>.lock``: a lock of ours by that name made every write
    wait for Optuna's 30 s grace period (30 s of a 37 s three-trial search)."""

    def no_waiting(seconds):
        raise AssertionError(f"the search waited {seconds} s for the journal's lock")

    monkeypatch.setattr("optuna.storages.journal._file.time.sleep", no_waiting)
    study = search(tmp_path, tiny_params, tiny_arrays, trials=2, pruner="none")
    assert [trial.state for trial in study.trials] == [TrialState.COMPLETE] * 2


@pytest.mark.slow
def test_a_search_killed_between_a_trials_suggestions_resumes_as_if_never_killed(tiny_params, tiny_arrays, tmp_path):
    """SIGKILL can land after a trial wrote its first value and before the others: its half set of values is
    not queued again (the rest would be drawn anew, unlike the search never killed); the trial is drawn afresh."""
    import socket

    from starrec.tune.space import searched

    straight = search(tmp_path / "straight", tiny_params, tiny_arrays, trials=3, pruner="none")
    killed = search(tmp_path / "killed", tiny_params, tiny_arrays, trials=2, pruner="none")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    half = killed.ask()
    half.set_user_attr("worker", f"{socket.gethostname()}:{dead.pid}")
    first, bounds = next(iter(searched(tiny_params.tune).items()))
    half.suggest_float(first, *bounds)  # one value of the searched keys written, then the kill
    resumed = search(tmp_path / "killed", tiny_params, tiny_arrays, trials=3, pruner="none")
    done = [trial for trial in resumed.trials if trial.state == TrialState.COMPLETE]
    assert [trial.params for trial in done] == [trial.params for trial in straight.trials]
    assert [trial.state for trial in resumed.trials].count(TrialState.FAIL) == 1


@pytest.mark.parametrize(
    "content, said",
    [
        ("{oops", r"^metrics/tune.json \(workspace\): not valid JSON \(.*\); `git checkout -- metrics/tune.json`$"),
        ('{"k": 5}', r"^metrics/tune.json: lacks best_params, best_accuracy, .*; `git checkout -- metrics/tune.json`"),
        (None, r"^metrics/tune.json: best_params \['train.nesterov'\] are not searched keys"),
    ],
)
def test_a_damaged_or_hand_edited_tune_json_is_one_line_in_summary_and_report(
    tmp_path, monkeypatch, capsys, content, said
):
    """The file is kept in git (cache: false): the hint is git checkout, not dvc checkout."""
    from starrec.app.cli import main
    from starrec.app.report import search_section

    monkeypatch.chdir(tmp_path)
    (tmp_path / "metrics").mkdir()
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    tune = json.loads((ROOT / "metrics" / "tune.json").read_text()) | {"best_params": {"train.nesterov": True}}
    (tmp_path / "metrics" / "tune.json").write_text(json.dumps(tune) if content is None else content)
    with pytest.raises(StarrecError, match=said):
        search_section()
    if content != "{oops":  # summary reads the file through artifacts.read_optional (its own test)
        assert main(["summary"]) == 1
        assert re.search(said.replace("^", "^error: "), capsys.readouterr().err.strip())
