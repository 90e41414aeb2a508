"""K-fold cross validation, as in the lecture: randomize, split into K folds, train K times.

    for i in range(K): train on every fold but i, test on fold i
    performance = mean over folds (and the standard deviation, ddof=0)

Folds are stratified by class and keep duplicate images (same sha256)
together; K equal to the number of examples is leave-one-out (LOOCV), where
the pooled out-of-fold scores are the meaningful number.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import LeaveOneOut, StratifiedGroupKFold
from tqdm import tqdm

from starrec.augment import with_augmented_copies
from starrec.datasets import from_arrays
from starrec.errors import StarrecError
from starrec.params import AugmentParams, ModelParams, TrainParams
from starrec.preprocess import normalization_stats
from starrec.training import fit, predict_labels

SCORES = ("accuracy", "f1_macro")


class KFoldError(StarrecError, ValueError):
    """``kfold.k`` does not fit the data; the message says which values do."""


def fold_indices(labels: np.ndarray, groups: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(train_indices, test_indices)`` for each of the ``k`` folds."""
    labels = np.asarray(labels)
    n = len(labels)
    if k == n:
        return list(LeaveOneOut().split(labels))
    if k > n:
        raise KFoldError(f"kfold.k = {k} is larger than the number of examples ({n}); use 2..{n}")
    counts = np.bincount(labels)
    present = counts[counts > 0]
    smallest = int(present.min())
    if k > smallest:
        raise KFoldError(
            f"kfold.k = {k} is larger than the smallest class ({smallest} examples), so stratified "
            f"folds are impossible; use k between 2 and {smallest}, or k = {n} for leave-one-out"
        )
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(n), labels, groups))


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


@dataclass(frozen=True)
class CrossValidation:
    """Every fold's scores and each example's out-of-fold prediction."""

    folds: list[FoldScore]
    labels: np.ndarray
    predicted: np.ndarray

    def report(self) -> dict:
        """kfold.json: k, mean/std per score, the pooled out-of-fold scores, every fold."""
        pooled = score(-1, self.labels, self.predicted)
        return {
            "k": len(self.folds),
            **summarize_folds(self.folds),
            "pooled": {name: getattr(pooled, name) for name in SCORES},
            "folds": [asdict(fold) for fold in self.folds],
        }


def cross_validate(
    images: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    num_classes: int,
    k: int,
    seed: int,
    augment: AugmentParams,
    model_params: ModelParams,
    train_params: TrainParams,
) -> CrossValidation:
    """Train a fresh model per fold on the other folds (augmented, normalised with their own
    statistics) and predict the held-out fold."""
    folds = fold_indices(labels, groups, k, seed)
    scores, predicted = [], np.zeros_like(labels)
    for number, (train_index, test_index) in enumerate(tqdm(folds, desc="k-fold", unit="fold")):
        train = with_augmented_copies(from_arrays(images[train_index], labels[train_index]), augment, seed)
        stats = normalization_stats([images[train_index]], augment.grayscale)
        n_train = len(train_index) * (augment.copies + 1)
        model, _ = fit(train, n_train, num_classes, stats, model_params, train_params, seed, verbose=0)
        truth, probabilities = predict_labels(model, from_arrays(images[test_index], labels[test_index]))
        predicted[test_index] = probabilities.argmax(axis=1)
        scores.append(score(number, truth, predicted[test_index]))
    return CrossValidation(scores, np.asarray(labels), predicted)
