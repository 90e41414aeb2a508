"""What the search and the learning curve found, in words (``starrec summary``, ``starrec report``), and
``starrec tune apply``, which writes the best trial's values into params.yaml. Metrics files only: no TensorFlow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starrec.artifacts import TUNE, read_optional, restore_hint
from starrec.atomic import atomic_path
from starrec.errors import MissingInput, StarrecError
from starrec.evaluation.formatting import mean_std, score
from starrec.params import Params, load_params, parse_params, read_yaml, render_params_yaml
from starrec.tune.space import RANGE_OF, as_params, exp_run_command, value_at, with_values


def holds(params: Params, values: dict[str, Any]) -> bool:
    """Whether ``params`` already has every one of ``values``."""
    return with_values(params, as_params(values)) == params


SUMMARY_KEYS = ("k", "best_params", "best_accuracy", "best_trial", "trials", "pruned", "first_accuracy", "caveat")
"""The keys of metrics/tune.json that the summary and the report read."""


def checked_tune(tune: object, path: Path = TUNE) -> dict:
    """The content of ``path`` (metrics/tune.json) if it has :data:`SUMMARY_KEYS` and best_params of searched
    keys only; else one line naming the file and what is wrong (a damaged or hand-edited file)."""
    missing = [key for key in SUMMARY_KEYS if not isinstance(tune, dict) or key not in tune]
    if missing:
        raise StarrecError(f"{path}: lacks {', '.join(missing)}; {restore_hint(path)} or `make tune`")
    assert isinstance(tune, dict)
    best = tune["best_params"]
    unknown = sorted(set(best) - set(RANGE_OF)) if isinstance(best, dict) else best
    if not isinstance(best, dict) or not best or unknown:
        raise StarrecError(f"{path}: best_params {unknown!r} are not searched keys ({', '.join(RANGE_OF)})")
    return tune


def search_lines(tune: dict, params: Params) -> list[str]:
    """The best trial's K-fold accuracy beside the first trial's, why it is optimistic, the nested estimate
    (if run), and whether params.yaml holds the best values."""
    tune = checked_tune(tune)
    k, best = tune["k"], tune["best_params"]
    lines = [
        f"tune: best {k}-fold accuracy {tune['best_accuracy']:.4f} (trial {tune['best_trial']} of {tune['trials']}, "
        f"{tune['pruned']} pruned; the params it started from: {score(tune['first_accuracy'])})",
        f"  {tune['caveat']}",
    ]
    nested = tune.get("nested")
    if nested:
        accuracy = nested["accuracy"]
        lines.append(
            f"  nested {nested['outer_folds']}-fold estimate of search + training: accuracy {mean_std(accuracy)}"
        )
    if holds(params, best):
        lines.append(
            "  params.yaml holds the best trial's values: after `dvc repro`, the test score is theirs, measured once"
        )
    else:
        lines.append(
            f"  params.yaml differs from the best trial: `starrec tune apply` (or {exp_run_command(as_params(best))})"
        )
    return lines


def apply_best(params_path: Path, tune_path: Path) -> list[str]:
    """Write the best trial's values of ``tune_path`` into ``params_path`` (rendered with its comments,
    atomically); the ``key: old -> new`` lines of what changed."""
    tune = read_optional(tune_path, dict)
    if tune is None:
        raise MissingInput(f"{tune_path}: missing; run the search first (make tune, or dvc repro tune/dvc.yaml)")
    chosen_keys = checked_tune(tune, tune_path)["best_params"]
    params, best = load_params(params_path), as_params(chosen_keys)
    chosen = with_values(params, best)
    text = render_params_yaml(chosen)
    parse_params(read_yaml(text))  # the rendered file must load back
    changes = [
        f"{key}: {value_at(params, key)} -> {value}"
        for key, value in sorted(best.items())
        if value_at(params, key) != value
    ]
    with atomic_path(params_path) as path:
        path.write_text(text, encoding="utf-8")
    return changes
