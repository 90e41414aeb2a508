"""Which examples each of the K folds tests: stratified by class, the copies of a picture kept together
(:mod:`starrec.data.duplicates`); K equal to the number of examples (or of pictures) is leave-one-out. No
training here (:mod:`starrec.cv.fold` trains on them)."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import LeaveOneGroupOut, StratifiedGroupKFold

from starrec.errors import StarrecError


class KFoldError(StarrecError, ValueError):
    """``kfold.k`` does not fit the data; the message says which values do."""


def fold_indices(
    labels: np.ndarray, groups: np.ndarray, k: int, seed: int, classes: list[str]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(train_indices, test_indices)`` for each of the ``k`` folds.

    Stratification counts pictures (groups), not files: every class needs
    ``k`` distinct pictures so that each fold tests it. ``k`` equal to the
    number of examples (or of pictures) leaves one picture out per fold.
    """
    labels, groups = np.asarray(labels), np.asarray(groups)
    n, n_groups = len(labels), len(np.unique(groups))
    if k in (n, n_groups):
        return list(LeaveOneGroupOut().split(labels, labels, groups))
    if k > n:
        raise KFoldError(f"kfold.k = {k} is larger than the number of examples ({n}); use 2..{n}")
    pictures = {label: len(np.unique(groups[labels == label])) for label in np.unique(labels)}
    label = min(pictures, key=lambda label: (pictures[label], label))
    if k > pictures[label]:
        raise KFoldError(
            f"kfold.k = {k} but class {classes[label]!r} has only {pictures[label]} distinct pictures "
            f"({int(np.sum(labels == label))} images), so some folds would test none of it; use k between 2 and "
            f"{pictures[label]}, or k = {n} for leave-one-out"
        )
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(n), labels, groups))
