"""K-fold cross validation, as in the lecture: randomize, split into K folds, train K times.

    for i in range(K): train on every fold but i, test on fold i
    performance = mean over folds (and the standard deviation)

Folds are stratified by class and keep duplicate images (same sha256)
together; K equal to the number of examples is leave-one-out (LOOCV).
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import LeaveOneOut, StratifiedGroupKFold
from starrec.errors import StarrecError


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


def summarize_folds(folds: list[dict], names: tuple[str, ...] = ("accuracy", "f1_macro")) -> dict:
    """Mean and standard deviation (population, ddof=0) of each score over the folds."""
    summary = {}
    for name in names:
        values = np.asarray([fold[name] for fold in folds], dtype=float)
        summary[name] = {"mean": float(values.mean()), "std": float(values.std())}
    return summary
