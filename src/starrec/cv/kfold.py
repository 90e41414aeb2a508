"""The scores of a K-fold cross validation, put together from its parts.

    performance = mean over folds (and the standard deviation, ddof=0)

plus the pooled score of every example's out-of-fold prediction (the meaningful
number for leave-one-out). Pure bookkeeping: no TensorFlow, so that the kfold
stage that collects the fold@P parts is quick.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from starrec import artifacts
from starrec.errors import MissingInput, StarrecError
from starrec.evaluation.formatting import mean_std

SCORES = ("accuracy", "f1_macro")


@dataclass(frozen=True)
class FoldScore:
    """One fold's test scores: accuracy and scikit-learn's macro F1 (undefined class F1 counts 0)."""

    fold: int
    n_test: int
    accuracy: float
    f1_macro: float


def score(fold: int, truth: np.ndarray, predicted: np.ndarray) -> FoldScore:
    return FoldScore(
        fold=fold,
        n_test=len(truth),
        accuracy=float(accuracy_score(truth, predicted)),
        f1_macro=float(f1_score(truth, predicted, average="macro", zero_division=0.0)),
    )


def summarize_folds(folds: list[FoldScore]) -> dict:
    """Mean and standard deviation (population, ddof=0) of each score over the folds."""
    summary = {}
    for name in SCORES:
        values = np.asarray([getattr(fold, name) for fold in folds], dtype=float)
        summary[name] = {"mean": float(values.mean()), "std": float(values.std())}
    return summary


def folds_id(data_id: str, test_indices: list[list[int]]) -> str:
    """Which examples each fold tested, of which data: the first 16 hex digits of
    sha256 over both. Two runs can be compared fold by fold only when theirs are equal."""
    identity = json.dumps({"data": data_id, "test_index": test_indices}, sort_keys=True)
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class CrossValidation:
    """Every fold's scores and each example's out-of-fold prediction; ``folds_id`` as :func:`folds_id`."""

    folds: list[FoldScore]
    labels: np.ndarray
    predicted: np.ndarray
    folds_id: str

    def report(self) -> dict:
        """kfold.json: k, the folds' id, mean/std per score, the pooled out-of-fold scores, every fold."""
        pooled = score(-1, self.labels, self.predicted)
        return {
            "k": len(self.folds),
            "folds_id": self.folds_id,
            **summarize_folds(self.folds),
            "pooled": {name: getattr(pooled, name) for name in SCORES},
            "folds": [asdict(fold) for fold in self.folds],
        }

    def summary_line(self) -> str:
        """``k=5 accuracy 0.9861 ± 0.0044, macro F1 0.9861 ± 0.0044``"""
        summary = summarize_folds(self.folds)
        return f"k={len(self.folds)} accuracy {mean_std(summary['accuracy'])}, macro F1 {mean_std(summary['f1_macro'])}"


def load_parts(directory: Path, parts: list[int]) -> list[dict]:
    """``<directory>/part-P.json`` of each part P, as the fold@P stages wrote them."""
    loaded = []
    for part in parts:
        path = artifacts.kfold_part(part, directory)
        if not path.is_file():
            raise MissingInput(f"{path}: missing; run `dvc repro fold@{part}` (kfold.parts lists part {part})")
        loaded.append(json.loads(path.read_text(encoding="utf-8")))
    return loaded


class IncompleteFolds(StarrecError, ValueError):
    """The parts do not hold every fold exactly once; the message names the folds."""


def collect_folds(parts: list[dict]) -> CrossValidation:
    """The cross validation of the parts that :func:`train_folds` returned, which must hold
    every fold of one k exactly once."""
    n_folds = {part["n_folds"] for part in parts}
    ks = {part["k"] for part in parts}
    if len(n_folds) != 1 or len(ks) != 1:
        raise IncompleteFolds(f"the parts were trained for different kfold.k ({sorted(ks)}); rerun the fold stages")
    (n,) = n_folds
    if len({part["data"] for part in parts}) != 1:
        raise IncompleteFolds("the parts were trained on different data; rerun the fold stages")
    found = sorted(fold["fold"] for part in parts for fold in part["folds"])
    if found != list(range(n)):
        missing = sorted(set(range(n)) - set(found))
        twice = sorted({number for number in found if found.count(number) > 1})
        raise IncompleteFolds(
            f"the fold parts miss folds {missing} and repeat {twice} of {n}; check kfold.parts, rerun the fold stages"
        )
    folds = sorted((fold for part in parts for fold in part["folds"]), key=lambda fold: fold["fold"])
    size = sum(len(fold["test_index"]) for fold in folds)
    labels, predicted = np.zeros(size, np.int64), np.zeros(size, np.int64)
    for fold in folds:
        labels[fold["test_index"]] = fold["truth"]
        predicted[fold["test_index"]] = fold["predicted"]
    identity = folds_id(parts[0]["data"], [fold["test_index"] for fold in folds])
    return CrossValidation([FoldScore(**fold["score"]) for fold in folds], labels, predicted, identity)
