"""``starrec experiments``: one row per DVC experiment, in a terminal's width. ``dvc exp show --only-changed``
also lists every changed dependency (the card's metrics files, the fold parts), which pushes the changed param
into a ``…`` cell at 120 columns; this table keeps what a comparison needs: the params that differ from the
baseline, test accuracy with its 95 % interval, K-fold mean ± std, and the paired test against the baseline."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from starrec.evaluation.compare import ALPHA, NotComparable, compare, p_value, points
from starrec.evaluation.formatting import mean_std, with_interval
from starrec.evaluation.runs import WORKSPACE, RunResults, load_run, params_diff


@dataclass(frozen=True)
class Listed:
    """A row of ``dvc exp show``: its name (an experiment's, a branch's, ``workspace``) and whether it is the
    commit its experiments were run from."""

    name: str
    baseline: bool


def listed_experiments() -> list[Listed]:
    """What ``dvc exp show`` lists, in its order (the workspace, each baseline commit, its experiments)."""
    import dvc.api

    rows = dvc.api.exp_show(repo=".")
    return [Listed(row["Experiment"] or row["rev"], row["typ"] == "baseline") for row in rows]


def against_baseline(run: RunResults, baseline: RunResults, alpha: float = ALPHA) -> str:
    """``+0.28 points, p = 0.593``: the K-fold accuracy difference and the corrected t-test's p (``*``: below
    ``alpha``); ``other folds: not paired`` where the two were tested on other folds or test images."""
    try:
        ttest = compare(run, baseline).folds["accuracy"]
    except NotComparable:
        return "other folds: not paired"
    return f"{points(ttest.difference)}, p = {p_value(ttest.p)}{' *' if ttest.p < alpha else ''}"


def value(params: dict, key: str) -> str:
    return json.dumps(params.get(key))


def table(runs: Sequence[RunResults], baseline: RunResults, alpha: float = ALPHA) -> list[str]:
    """The rows as aligned text: name, each param that differs from ``baseline`` in any run, test accuracy
    [95 % interval], K-fold accuracy mean ± std, and the K-fold difference to ``baseline`` with its p."""
    changed = sorted({key for run in runs for key in params_diff(run.params, baseline.params)})
    k = baseline.kfold.get("k", "K")
    header = ["experiment", *changed, "test accuracy [95 % CI]", f"{k}-fold accuracy", f"vs {baseline.name} (K-fold)"]
    rows = [
        [
            run.name,
            *(value(run.params, key) for key in changed),
            with_interval(run.test, "accuracy"),
            mean_std(run.kfold["accuracy"]),
            "baseline" if run is baseline else against_baseline(run, baseline, alpha),
        ]
        for run in runs
    ]
    widths = [max(len(cells[column]) for cells in [header, *rows]) for column in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
        for cells in [header, *rows]
    ]
    return [*lines, f"* p < {alpha:g}: the corrected resampled t-test over the folds (Nadeau and Bengio)"]


def experiments_table(against: str | None = None, alpha: float = ALPHA) -> list[str]:
    """The table of every run ``dvc exp show`` lists (the workspace only where it is not one of them), against
    ``against`` (default: the commit the experiments were run from)."""
    listed = listed_experiments()
    names = [row.name for row in listed if row.name != WORKSPACE]
    baseline_name = against or next((row.name for row in listed if row.baseline and row.name != WORKSPACE), WORKSPACE)
    runs = {name: load_run(name) for name in dict.fromkeys([baseline_name, *names])}
    workspace = load_run(WORKSPACE)
    same = any(run.params == workspace.params and run.test == workspace.test for run in runs.values())
    ordered = [runs[baseline_name], *(run for name, run in runs.items() if name != baseline_name)]
    return table(ordered if same else [*ordered, workspace], runs[baseline_name], alpha)
