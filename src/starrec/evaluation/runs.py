"""Runs to compare, read as DVC keeps them: ``workspace`` (the files here) or anything ``dvc exp
show`` and git accept (an experiment name, a branch, a tag, a commit), through ``dvc.api`` (tracked
outputs from the DVC cache): their params, defaults filled in, and their results."""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dvc.api
import pandas as pd
import yaml
from dvc.exceptions import DvcException
from dvc.scm import SCM, resolve_rev
from dvc_data.index import DataIndexError

from starrec import artifacts
from starrec.errors import MissingInput, StarrecError
from starrec.evaluation.predictions import read_predictions
from starrec.params import Params, read_yaml

WORKSPACE = "workspace"
PULL = "`dvc pull` it (or `dvc exp pull`) first"
LOCK_FILES = ("dvc.lock", "tune/dvc.lock")
"""The lock files of the two pipelines (dvc.yaml, tune/dvc.yaml): what each revision's stages wrote."""


@dataclass(frozen=True)
class RunResults:
    """What one revision (or the workspace) holds: its params (flat keys) and results."""

    name: str
    params: dict
    kfold: dict
    test: dict
    predictions: pd.DataFrame


def revision(name: str) -> str | None:
    """The commit of an experiment name or git revision (None: ``workspace``), resolved once per repository."""
    return None if name == WORKSPACE else _commit(os.getcwd(), name)


@functools.cache
def _commit(repository: str, name: str) -> str:
    try:
        return resolve_rev(SCM(repository), name)
    except DvcException as error:
        raise StarrecError(f"{name}: no such experiment or git revision ({error})") from None


def read_text(name: str, path: str) -> str:
    """``path`` as revision ``name`` has it (``workspace``: the files here); MissingInput if absent."""
    rev = revision(name)
    try:
        return dvc.api.read(path, repo=".", rev=rev, encoding="utf-8")
    except DataIndexError:  # a DVC output of that revision whose files are not in the cache
        raise MissingInput(f"{path}: {name}'s copy is not in the DVC cache; {PULL}") from None
    except (FileNotFoundError, DvcException):
        if _is_output(name, path):  # DVC says "does not exist" where only the cache lacks a stage's output
            raise MissingInput(f"{path}: {name}'s copy is not in the DVC cache; {PULL}") from None
        raise MissingInput(f"{path}: not in {name}; run `dvc repro` (or `dvc exp run`) for it first") from None


def _is_output(name: str, path: str) -> bool:
    """Whether a dvc.lock of revision ``name`` lists ``path``, or a folder holding it, among its outputs
    (both pipelines run in the repository root, so their paths are the repository's)."""
    for lock in LOCK_FILES:
        try:
            stages = yaml.safe_load(dvc.api.read(lock, repo=".", rev=revision(name), encoding="utf-8"))["stages"]
            outs = [out["path"] for stage in stages.values() for out in stage.get("outs", [])]
        except (FileNotFoundError, DvcException, yaml.YAMLError, KeyError, TypeError, AttributeError):
            continue
        if any(path == out or path.startswith(f"{out}/") for out in outs if isinstance(out, str)):
            return True
    return False


def read_params(name: str) -> dict:
    """The flat params of revision ``name``, each key its schema default where that params.yaml has none
    (a key added after the revision was made, or left out by hand, is not a difference)."""
    raw = read_yaml(read_text(name, str(artifacts.PARAMS))) or {}
    return flatten(dataclasses.asdict(Params())) | flatten(raw if isinstance(raw, dict) else {})


def flatten(tree: dict, prefix: str = "") -> dict:
    """``{"train": {"momentum": 0.9}}`` -> ``{"train.momentum": 0.9}``."""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def load_run(name: str) -> RunResults:
    def read_json(path) -> dict:
        return json.loads(read_text(name, str(path)))

    return RunResults(
        name=name,
        params=read_params(name),
        kfold=read_json(artifacts.KFOLD),
        test=read_json(artifacts.TEST),
        predictions=read_predictions(io.StringIO(read_text(name, str(artifacts.PREDICTIONS)))),
    )


SCORE_NAMES = {"accuracy": "accuracy", "f1_macro": "macro F1"}
"""The two scores runs are compared on (metrics/test.json, metrics/kfold.json), and their names in prose."""


def against_committed(test: Mapping[str, Any], machine: Mapping[str, Any] | None, rev: str = "HEAD") -> str | None:
    """One line: whether ``test`` (this workspace's metrics/test.json) lies inside the 95 % intervals of the
    run committed at ``rev``, naming the machine each was trained on (``machine``: this one's
    metrics/train_machine.json) where the scores differ; None where ``rev`` holds no test scores."""
    try:
        committed = json.loads(read_text(rev, str(artifacts.TEST)))
    except StarrecError:
        return None
    if all(committed.get(key) == test.get(key) for key in SCORE_NAMES):
        return f"committed run ({rev}): the same test scores"
    scores = []
    for key, title in SCORE_NAMES.items():
        low, high = committed["ci95"][key]["low"], committed["ci95"][key]["high"]
        scores.append(f"{title} {'inside' if low <= test[key] <= high else 'OUTSIDE'} [{low:.4f}, {high:.4f}]")
    try:
        theirs = json.loads(read_text(rev, str(artifacts.TRAIN_MACHINE)))
        trained = f"trained on {theirs['cpu']} in {theirs['precision']}"
    except (StarrecError, KeyError, TypeError, ValueError):
        trained = "its machine not recorded"
    here = f"; this one on {machine['cpu']} in {machine['precision']}" if machine else ""
    return f"committed run ({rev}, {trained}{here}): {', '.join(scores)} of its 95 % intervals"


def params_diff(a: dict, b: dict) -> dict[str, tuple]:
    """Every key of two flat params whose value differs: ``{key: (value in a, value in b)}``."""
    keys = sorted(set(a) | set(b))
    return {key: (a.get(key), b.get(key)) for key in keys if a.get(key) != b.get(key)}
