"""Splits are stratified, seeded and keep duplicates together; K-fold as in the lecture."""

import numpy as np
import pytest

from starrec.kfold import FoldScore, KFoldError, cross_validate, fold_indices, summarize_folds
from starrec.splits import split_indices

FRACTIONS = {"train": 0.6, "val": 0.2, "test": 0.2}


def test_split_fractions_per_class_and_no_overlap():
    labels = np.repeat([0, 1], [50, 100])
    groups = np.arange(150).astype(str)
    chosen = split_indices(labels, groups, FRACTIONS, seed=1)
    assert {name: len(ix) for name, ix in chosen.items()} == {"train": 90, "val": 30, "test": 30}
    assert np.bincount(labels[chosen["test"]]).tolist() == [10, 20]
    assert len(set(np.concatenate(list(chosen.values())))) == 150


def test_split_is_seeded_and_random():
    labels = np.repeat([0, 1], 20)
    groups = np.arange(40).astype(str)
    a, b, c = (split_indices(labels, groups, FRACTIONS, seed=s) for s in (1, 1, 2))
    assert all(np.array_equal(a[n], b[n]) for n in a)
    assert not np.array_equal(np.sort(a["test"]), np.sort(c["test"]))


def test_identical_images_never_land_in_two_splits():
    labels = np.repeat([0, 1], 20)
    groups = np.array([f"sha{i // 4}" for i in range(40)])
    chosen = split_indices(labels, groups, FRACTIONS, seed=0)
    seen = {name: set(groups[ix]) for name, ix in chosen.items()}
    assert not (seen["train"] & seen["test"]) and not (seen["train"] & seen["val"]) and not (seen["val"] & seen["test"])


def test_stratified_folds_cover_every_example_once():
    labels = np.repeat([0, 1, 2], [10, 10, 20])
    folds = fold_indices(labels, np.arange(40), k=5, seed=0)
    assert len(folds) == 5
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(40))
    for train, test in folds:
        assert not set(train) & set(test)
        assert np.bincount(labels[test]).tolist() == [2, 2, 4]


def test_k_equal_to_examples_is_leave_one_out():
    labels = np.array([0, 0, 1, 1, 1])
    folds = fold_indices(labels, np.arange(5), k=5, seed=0)
    assert [len(test) for _, test in folds] == [1] * 5


def test_k_larger_than_smallest_class_is_refused():
    labels = np.repeat([0, 1], [3, 30])
    with pytest.raises(KFoldError, match=r"kfold.k = 4 is larger than the smallest class \(3 examples\)"):
        fold_indices(labels, np.arange(33), k=4, seed=0)
    with pytest.raises(KFoldError, match="larger than the number of examples"):
        fold_indices(labels, np.arange(33), k=40, seed=0)


def test_summary_mean_and_std():
    folds = [FoldScore(0, 2, accuracy=0.5, f1_macro=0.4), FoldScore(1, 2, accuracy=1.0, f1_macro=0.6)]
    assert summarize_folds(folds) == {
        "accuracy": {"mean": 0.75, "std": 0.25},
        "f1_macro": {"mean": pytest.approx(0.5), "std": pytest.approx(0.1)},
    }


def test_cross_validation_trains_each_fold_and_pools_out_of_fold_predictions(tiny_params, tiny_arrays):
    images, labels = tiny_arrays
    groups = np.arange(len(labels)).astype(str)
    p = tiny_params
    result = cross_validate(images, labels, groups, 3, 3, p.seed, p.augment, p.model, p.train)
    report = result.report()
    assert report["k"] == 3 and [fold["fold"] for fold in report["folds"]] == [0, 1, 2]
    assert sum(fold["n_test"] for fold in report["folds"]) == len(labels)
    folds = fold_indices(labels, groups, 3, p.seed)
    for fold, (_, test) in zip(report["folds"], folds):
        assert fold["accuracy"] == pytest.approx(np.mean(result.predicted[test] == labels[test]))
    assert report["pooled"]["accuracy"] == pytest.approx(np.mean(result.predicted == labels))
    assert report["accuracy"]["mean"] == pytest.approx(np.mean([fold["accuracy"] for fold in report["folds"]]))
