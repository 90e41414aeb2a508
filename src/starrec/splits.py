"""Randomized, stratified, seeded train/val/test split that keeps duplicates together."""

from __future__ import annotations

import numpy as np

SPLITS = ("train", "val", "test")


def split_indices(
    labels: np.ndarray, groups: np.ndarray, fractions: dict[str, float], seed: int
) -> dict[str, np.ndarray]:
    """Indices of each split, shuffled.

    Examples sharing a group (the sha256 of their source file) always land
    in the same split. Within every class the groups are shuffled with
    ``seed`` and cut by ``fractions`` (val and test rounded, train takes
    the rest), so each split keeps the class proportions.
    """
    labels, groups = np.asarray(labels), np.asarray(groups)
    rng = np.random.default_rng(seed)
    members: dict = {}
    for index, group in enumerate(groups):
        members.setdefault(group, []).append(index)
    chosen: dict[str, list[int]] = {name: [] for name in SPLITS}
    for label in np.unique(labels):
        class_groups = [group for group, indices in members.items() if labels[indices[0]] == label]
        order = rng.permutation(len(class_groups))
        n = len(class_groups)
        n_test = int(round(n * fractions["test"]))
        n_val = min(int(round(n * fractions["val"])), n - n_test)
        cuts = {"test": order[:n_test], "val": order[n_test : n_test + n_val], "train": order[n_test + n_val :]}
        for name, picked in cuts.items():
            for position in picked:
                chosen[name].extend(members[class_groups[position]])
    return {name: rng.permutation(np.asarray(chosen[name], dtype=np.int64)) for name in SPLITS}
