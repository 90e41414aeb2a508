"""What the search and the learning curve found, in words (``starrec summary``, ``starrec report``), and
``starrec tune apply``, which writes the best trial's values into params.yaml. Metrics files only: no TensorFlow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starrec.artifacts import read_optional
from starrec.atomic import atomic_path
from starrec.errors import MissingInput, StarrecError
from starrec.evaluation.formatting import mean_std, score
from starrec.params import Params, load_params, parse_params, read_yaml, render_params_yaml
from starrec.tune.space import RANGE_OF, as_params, exp_run_command, value_at, with_values


def holds(params: Params, values: dict[str, Any]) -> bool:
    """Whether ``params`` already has every one of ``values``."""
    return with_values(params, as_params(values)) == params


def search_lines(tune: dict, params: Params) -> list[str]:
    """The best trial's K-fold accuracy beside the first trial's, why it is optimistic, the nested estimate
    (if run), and whether params.yaml holds the best values."""
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
    chosen_keys = tune.get("best_params")
    if not isinstance(chosen_keys, dict) or not chosen_keys or set(chosen_keys) - set(RANGE_OF):
        unknown = sorted(set(chosen_keys) - set(RANGE_OF)) if isinstance(chosen_keys, dict) else chosen_keys
        raise StarrecError(f"{tune_path}: best_params {unknown!r} are not searched keys ({', '.join(RANGE_OF)})")
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
