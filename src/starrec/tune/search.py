"""The search: Optuna trials of the ``tune.*`` space, each scored by K-fold on train + val.

    trial value = mean over the K folds of the fold's accuracy   (the kfold stage's folds, never the test split)

Each fold's running mean is an intermediate value, so the pruner (median or Hyperband) stops a hopeless trial
after its first folds. The first trial is the params as they are, so the best is never below them. The study
lives in Optuna's storage: a journal file by default (one process; a killed search resumes), or a database URL
that workers on many machines share (``tune.storage``; Optuna's heartbeat retries a dead machine's trial).

On one worker, the same params, data and seed give the same trials: the sampler is reseeded before each trial
from the seed and the number of finished trials, so a resumed search continues as an uninterrupted one would.
A trial left running by a killed process of this machine is failed and queued again with the same values; its
finished folds are kept (``<backup_dir>/folds``) and not trained again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import math
import os
import socket
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import sqlalchemy
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import FrozenTrial, TrialState

from starrec.cv.fold import FoldData, FoldPart, FoldSettings, each_fold
from starrec.cv.splits import fold_indices
from starrec.errors import StarrecError
from starrec.params import TuneParams
from starrec.train.resume import fingerprint
from starrec.train.training import TrainingDiverged
from starrec.tune.space import RANGE_OF, current_values, grid, searched, suggest, with_values

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
FAILURE = "failure"  # the user attribute that says why a trial failed
JOURNAL = "study.journal"
SEARCH_LOCK = "search.lock"  # held by the one process that searches with the journal (not Optuna's journal.lock)
HEARTBEAT_S = 10  # a database worker's trial is alive while its heartbeat is younger than 6 of these
WORKER = f"{socket.gethostname()}:{os.getpid()}"
OPTIMISTIC = (
    "optimistic: the best of {n} K-fold scores is biased upwards (the search chose it because it scored high); "
    "the test score of the chosen params, evaluated once, is the honest estimate"
)
optuna.logging.set_verbosity(optuna.logging.WARNING)


class TuneError(StarrecError, RuntimeError):
    """The search has no result to report."""


def study_name(settings: FoldSettings, tune: TuneParams, data_id: str) -> str:
    """``starrec-<16 hex>``: the space, sampler, pruner and every param that changes a trial's score, and the
    data. ``tune.trials``, ``timeout`` and ``storage`` are not in it: raising ``tune.trials`` extends a study."""
    space = (searched(tune), tune.sampler, tune.grid_points, tune.pruner)
    fixed = (settings.seed, settings.k, settings.augment, settings.model, settings.train)
    return "starrec-" + fingerprint(space, fixed, data_id)[:16]


def open_study(settings: FoldSettings, tune: TuneParams, data_id: str, backup_dir: Path) -> optuna.Study:
    """The study of these params and data in ``tune.storage``; whoever creates it queues the params as they are
    as its first trial."""
    name, pruner = study_name(settings, tune, data_id), _pruner(tune, settings.k)
    if tune.storage is not None:
        return _created_or_loaded(_database(tune.storage), name, pruner, settings, tune)
    journal = backup_dir / JOURNAL
    backup_dir.mkdir(parents=True, exist_ok=True)
    try:
        study = _created_or_loaded(JournalStorage(JournalFileBackend(str(journal))), name, pruner, settings, tune)
        study.get_trials(deepcopy=False)  # the whole journal replayed here, not in the middle of a trial
    except (ValueError, AssertionError, KeyError, TypeError, OSError) as error:  # JSON, UTF-8, Optuna's replay
        reason = " ".join(str(error).split())[:200] or type(error).__name__
        raise TuneError(
            f"{journal}: not a readable Optuna journal ({type(error).__name__}: {reason}); remove it "
            f"(rm -r {backup_dir}) to start the search afresh"
        ) from None
    return study


def _created_or_loaded(
    storage: optuna.storages.BaseStorage,
    name: str,
    pruner: optuna.pruners.BasePruner,
    settings: FoldSettings,
    tune: TuneParams,
) -> optuna.Study:
    """The study ``name`` in ``storage``: loaded, or created with the params as they are as its first trial."""
    try:
        study = optuna.create_study(storage=storage, study_name=name, direction="maximize", pruner=pruner)
    except optuna.exceptions.DuplicatedStudyError:  # another worker, or an earlier run, made it
        return optuna.load_study(study_name=name, storage=storage, pruner=pruner)
    study.enqueue_trial(current_values(settings, tune), user_attrs={"first": True})
    return study


def _database(url: str) -> optuna.storages.RDBStorage:
    """Optuna's storage in the database ``url``. Workers that start together on an empty database race to
    create its tables (optuna#1092: one fails), so a failed start is tried again a few times."""
    attempts = 0
    while True:
        try:
            return optuna.storages.RDBStorage(
                url,
                heartbeat_interval=HEARTBEAT_S,
                grace_period=6 * HEARTBEAT_S,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(),
            )
        except ImportError as error:  # mysql:// wants MySQLdb, which starrec does not install
            missing = getattr(error.__cause__, "name", None) or error.name
            raise TuneError(
                f"params.yaml: tune.storage: no driver for {url.split(':', 1)[0]}:// here (No module named "
                f"{missing!r}); install it, or use postgresql:// (psycopg is installed) or null (a journal file)"
            ) from None
        except sqlalchemy.exc.SQLAlchemyError as error:
            attempts += 1
            if attempts == 4:
                reason = str(error).splitlines()[0]
                raise TuneError(f"params.yaml: tune.storage: cannot open the database: {reason}") from None
            time.sleep(attempts)


def run_trials(
    study: optuna.Study,
    data: FoldData,
    settings: FoldSettings,
    tune: TuneParams,
    backup_dir: Path,
    shared: bool = False,
) -> None:
    """Trials until the study holds ``tune.trials`` finished ones (all workers together; a grid: at most its
    size) or ``tune.timeout`` seconds passed; then wait for the other workers' running trials. ``shared``: other
    workers may add trials (each worker's sampler is seeded apart)."""
    with _one_search_per_journal(backup_dir) if tune.storage is None else contextlib.nullcontext():
        try:
            _run_trials(study, data, settings, tune, backup_dir, shared)
        except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError) as error:  # it went away
            cause = error.__cause__ if isinstance(error.__cause__, sqlalchemy.exc.SQLAlchemyError) else error
            reason = " ".join(str(cause).split("\n")[0].split())
            raise TuneError(
                f"params.yaml: tune.storage: the database stopped answering ({reason}); the finished trials are "
                "kept there: run the search again when it is back"
            ) from None


@contextlib.contextmanager
def _one_search_per_journal(backup_dir: Path) -> Iterator[None]:
    """An exclusive lock beside the journal for the whole search: a second process on the same file would
    sample the same trials (one seed) and change the result; it is refused, naming the way to share a study."""
    backup_dir.mkdir(parents=True, exist_ok=True)
    with open(backup_dir / SEARCH_LOCK, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TuneError(
                f"{backup_dir / JOURNAL}: another search is running on it; wait for it, or share one study between "
                "processes through a database (tune.storage: postgresql://...; docs/tuning.md)"
            ) from None
        yield


def _run_trials(
    study: optuna.Study, data: FoldData, settings: FoldSettings, tune: TuneParams, backup_dir: Path, shared: bool
) -> None:
    started = time.monotonic()
    wanted = min(tune.trials, math.prod(map(len, grid(tune).values()))) if tune.sampler == "grid" else tune.trials
    while True:
        _reclaim_killed(study, set(searched(tune)))
        finished = len(_trials(study, FINISHED)) + len(failures(study))  # a failed trial counts: no retry forever
        running = len(_trials(study, (TrialState.RUNNING,)))
        timed_out = tune.timeout is not None and time.monotonic() - started >= tune.timeout
        if finished >= wanted or ((timed_out or finished + running >= wanted) and not running):
            return
        if timed_out or finished + running >= wanted:
            time.sleep(HEARTBEAT_S / 2)  # another worker's trial will finish, or its heartbeat stop
            continue
        study.sampler = _sampler(tune, settings.seed, finished, shared)
        trial_run = partial(objective, data=data, settings=settings, tune=tune, backup_dir=backup_dir)
        study.optimize(trial_run, n_trials=1, gc_after_trial=True)


def objective(trial: optuna.Trial, data: FoldData, settings: FoldSettings, tune: TuneParams, backup_dir: Path) -> float:
    """The trial's K-fold accuracy; the running mean after each fold is reported (step = fold number), and the
    trial is pruned when the pruner says so."""
    trial.set_user_attr("worker", WORKER)
    values = suggest(trial, tune)
    chosen = with_values(settings, values)
    folds_dir = backup_dir / "folds" / fingerprint(sorted(values.items()))[:16]
    run = FoldPart(backup_dir=folds_dir, description=f"trial {trial.number}")
    accuracies: list[float] = []
    try:
        for fold in each_fold(data, chosen, run):
            accuracies.append(fold["score"]["accuracy"])
            trial.set_user_attr("fold_accuracy", accuracies)
            trial.report(float(np.mean(accuracies)), step=fold["fold"])
            if trial.should_prune():
                raise optuna.TrialPruned()
    except TrainingDiverged:  # a result of the search, not its end: Optuna records NaN as FAIL and goes on
        trial.set_user_attr(
            FAILURE, f"diverged with {', '.join(f'tune.{RANGE_OF[k]} {v:.4g}' for k, v in values.items())}"
        )
        return math.nan
    return float(np.mean(accuracies))


TIE_DIGITS = 9
"""K-fold accuracies equal to this many digits are a tie (means of the same fold scores summed in another order
differ in the 17th: 0.45833333333333337 vs 0.4583333333333333), which the earlier trial wins."""


def report(study: optuna.Study, k: int) -> dict:
    """metrics/tune.json: the best trial (its K-fold accuracy and params), the first trial's (the params as they
    were), how many trials and fold trainings the search took, and why the best score is optimistic."""
    trials = _trials(study, FINISHED)
    complete = [trial for trial in trials if trial.state == TrialState.COMPLETE]
    if not complete:
        failed = failures(study)
        why = f"{len(failed)} failed ({failed[0]}; narrow the tune.* ranges)" if failed else "see the errors above"
        raise TuneError(f"study {study.study_name}: no trial completed; {why}")
    best = max(complete, key=lambda trial: (round(trial.value or 0.0, TIE_DIGITS), -trial.number))  # a tie: the earlier
    first = next((trial for trial in complete if trial.user_attrs.get("first")), None)
    folds = sum(len(trial.user_attrs.get("fold_accuracy", [])) for trial in trials)
    return {
        "study": study.study_name,
        "k": k,
        "best_accuracy": best.value,
        "best_trial": best.number,
        "best_params": best.params,
        "first_accuracy": first.value if first else None,
        "trials": len(trials),
        "pruned": len(trials) - len(complete),
        "fold_trainings": folds,
        "fold_trainings_without_pruning": len(trials) * k,
        "failed": failures(study),
        "caveat": OPTIMISTIC.format(n=len(trials)),
    }


def history(study: optuna.Study) -> list[dict]:
    """One row per finished trial: its K-fold accuracy (a pruned trial: its last running mean), the best so far
    and its values (the optimisation history)."""
    rows, best = [], -math.inf
    for trial in sorted(_trials(study, FINISHED), key=lambda trial: trial.number):
        value = trial.value if trial.state == TrialState.COMPLETE else _last(trial)
        if trial.state == TrialState.COMPLETE and value is not None:
            best = max(best, value)
        rows.append(
            {
                "trial": trial.number,
                "accuracy": value,
                "best": best if best > -math.inf else None,
                "state": trial.state.name.lower(),
                **trial.params,
            }
        )
    return rows


def importances(study: optuna.Study) -> list[dict]:
    """Optuna's fANOVA importance of each searched param for the K-fold accuracy (empty with one param, or when
    the complete trials all scored the same)."""
    complete = _trials(study, (TrialState.COMPLETE,))
    if len({trial.value for trial in complete}) < 2 or len({key for trial in complete for key in trial.params}) < 2:
        return []  # nothing to explain: every complete trial scored the same
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    found = optuna.importance.get_param_importances(study, evaluator=evaluator)
    return [{"param": key, "importance": float(value)} for key, value in found.items() if math.isfinite(value)]


def nested_cv(data: FoldData, settings: FoldSettings, tune: TuneParams, backup_dir: Path) -> dict:
    """Nested cross validation: around the search, ``tune.nested_folds`` outer folds; in each, a search by
    K-fold on the outer training part alone, then its best params trained there and scored on the outer fold.

        estimate = mean over outer folds of (accuracy of the searched model on its outer fold)

    An honest estimate of the whole procedure (search + training), at about outer x trials x K trainings."""
    outer = tune.nested_folds
    folds = fold_indices(data.labels, data.groups, outer, settings.seed, data.classes)
    rows = []
    for number, (train_index, _) in enumerate(folds):
        inner = data.subset(train_index)
        study = optuna.create_study(direction="maximize", pruner=_pruner(tune, settings.k))
        study.enqueue_trial(current_values(settings, tune), user_attrs={"first": True})
        run_trials(study, inner, settings, tune, backup_dir / f"outer-{number}")
        best = report(study, settings.k)
        chosen = dataclasses.replace(with_values(settings, best["best_params"]), k=outer)
        run = FoldPart(part=number, parts=outer, description=f"outer fold {number}")
        (result,) = each_fold(data, chosen, run)
        rows.append(
            {
                "fold": number,
                "accuracy": result["score"]["accuracy"],
                "inner_best_accuracy": best["best_accuracy"],
                "params": best["best_params"],
            }
        )
    scores = np.asarray([row["accuracy"] for row in rows])
    return {"outer_folds": outer, "accuracy": {"mean": float(scores.mean()), "std": float(scores.std())}, "folds": rows}


def failures(study: optuna.Study) -> list[str]:
    """``trial N: why`` of each trial that failed on its own params (a diverging training); not the trials of a
    killed worker, which are tried again."""
    failed = _trials(study, (TrialState.FAIL,))
    return [f"trial {trial.number}: {trial.user_attrs[FAILURE]}" for trial in failed if FAILURE in trial.user_attrs]


def _trials(study: optuna.Study, states: tuple[TrialState, ...]) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=states)


def _last(trial: FrozenTrial) -> float | None:
    steps = trial.intermediate_values
    return steps[max(steps)] if steps else None


def _reclaim_killed(study: optuna.Study, keys: set[str]) -> None:
    """Fail each running trial whose process on this machine is gone, and queue its values again if it had
    written all of ``keys``: a half set would have the rest drawn anew, unlike a search never killed, where a
    trial drawn afresh by the reseeded sampler (:func:`_sampler`) gets the very values."""
    host = socket.gethostname()
    for trial in _trials(study, (TrialState.RUNNING,)):
        worker = trial.user_attrs.get("worker", "")
        name, _, pid = worker.rpartition(":")
        if name == host and pid.isdigit() and not _alive(int(pid)):
            study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)  # Optuna has no public call
            if set(trial.params) == keys:
                RetryHeartbeatStaleTrialCallback()(study, study._storage.get_trial(trial._trial_id))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sampler(tune: TuneParams, seed: int, finished: int, shared: bool) -> optuna.samplers.BaseSampler:
    """The sampler for the next trial, seeded from the seed and the finished trials (shared: and this worker,
    so that two workers never propose the same values)."""
    salt = WORKER if shared else ""
    seed = int(fingerprint(seed, finished, salt)[:8], 16)
    if tune.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if tune.sampler == "grid":
        return optuna.samplers.GridSampler(grid(tune), seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(4, tune.trials), constant_liar=shared)


def _pruner(tune: TuneParams, k: int) -> optuna.pruners.BasePruner:
    pruners: dict[str, Callable[[], Any]] = {
        "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
        "hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=1, max_resource=k),
        "none": optuna.pruners.NopPruner,
    }
    return pruners[tune.pruner]()
