"""The search space: ``tune.*`` ranges over params keys, what a trial suggests, and those values back in params.

A trial's values are named by their params keys (``train.momentum``), so that the dashboard, ``metrics/tune.json``
and ``dvc exp run -S train.momentum=...`` all speak one language.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from starrec.params import CHOICE_RANGES, SEARCHED_KEYS, TuneParams

if TYPE_CHECKING:  # neither TensorFlow nor Optuna for starrec tune apply and summary
    import optuna

    from starrec.cv.fold import FoldSettings

Settings = TypeVar("Settings")  # FoldSettings or Params: both have train and model

LOG_SCALE = {"train.learning_rate"}
CHOICES = {key for key, name in SEARCHED_KEYS.items() if name in CHOICE_RANGES}  # listed choices, not a range


RANGE_OF = SEARCHED_KEYS  # each searched params key and the ``tune.*`` field of its range (params.py)


def ranges(tune: TuneParams) -> dict[str, list | None]:
    """``{params key: [low, high], or a list of choices for a batch size; None: not searched}``."""
    return {key: getattr(tune, name) for key, name in RANGE_OF.items()}


def searched(tune: TuneParams) -> dict[str, list]:
    """The ranges that ``tune`` searches."""
    return {key: bounds for key, bounds in ranges(tune).items() if bounds is not None}


def suggest(trial: optuna.Trial, tune: TuneParams) -> dict[str, Any]:
    """The trial's value of each searched key: a float uniform in its range (log-uniform for the learning rate),
    a batch size one of its choices."""
    values: dict[str, Any] = {}
    for key, bounds in searched(tune).items():
        if key in CHOICES:
            values[key] = trial.suggest_categorical(key, bounds)
        else:
            values[key] = trial.suggest_float(key, bounds[0], bounds[1], log=key in LOG_SCALE)
    return values


def grid(tune: TuneParams) -> dict[str, list]:
    """The grid sampler's points: ``tune.grid_points`` values spread evenly over each range (geometrically on a
    log scale), every choice of a list."""
    points: dict[str, list] = {}
    for key, bounds in searched(tune).items():
        if key in CHOICES:
            points[key] = list(bounds)
        else:
            spread = np.geomspace if key in LOG_SCALE else np.linspace
            points[key] = [round(float(value), 10) for value in spread(bounds[0], bounds[1], tune.grid_points)]
    return points


def current_values(settings: FoldSettings, tune: TuneParams) -> dict[str, Any]:
    """The searched keys' values in ``settings``: the first trial, so that a search never ends below the params
    it started from. Constant momentum (``momentum_schedule.end: null``) is the same as ``end = momentum``."""
    values = {key: value_at(settings, key) for key in searched(tune)}
    if values.get("train.momentum_schedule.end", 0.0) is None:
        values["train.momentum_schedule.end"] = settings.train.momentum
    return values


def as_params(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` as params.yaml writes them: a momentum decaying to itself is constant (``end: null``)."""
    end = "train.momentum_schedule.end"
    if end in values and values[end] == values.get("train.momentum"):
        return {**values, end: None}
    return values


def with_values(settings: Settings, values: dict[str, Any]) -> Settings:
    """``settings`` (or params) with each dotted key of ``values`` (``train.momentum``) replaced."""
    for key, value in values.items():
        settings = _replace(settings, key.split("."), value)
    return settings


def exp_run_command(values: dict[str, Any]) -> str:
    """``dvc exp run -S key=value ...``: the same values as a DVC experiment."""
    return "dvc exp run " + " ".join(f"-S {key}={_yaml(value)}" for key, value in sorted(values.items()))


def _yaml(value: Any) -> str:
    return "null" if value is None else repr(value)


def value_at(params: Any, key: str) -> Any:
    """``params``' value of the dotted ``key`` (``train.momentum``)."""
    for name in key.split("."):
        params = getattr(params, name)
    return params


def _replace(node: Any, names: list[str], value: Any) -> Any:
    head, *rest = names
    return dataclasses.replace(node, **{head: _replace(getattr(node, head), rest, value) if rest else value})
