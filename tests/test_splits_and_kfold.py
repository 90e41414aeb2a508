"""Splits are stratified, seeded and keep duplicates together; K-fold as in the lecture."""

import io
import re

import numpy as np
import pytest
from tqdm import tqdm

from helpers.data import from_arrays, read_arrays
from starrec.atomic import write_json
from starrec.cv import fold as fold_stage
from starrec.cv.fold import FoldData, FoldPart, FoldSettings, train_folds
from starrec.cv.kfold import FoldScore, IncompleteFolds, collect_folds, folds_id, load_parts, summarize_folds
from starrec.cv.splits import KFoldError, fold_indices
from starrec.data.records import write_shards
from starrec.data.split import SplitError, split_counts, split_indices, write_splits
from starrec.errors import MissingInput

FRACTIONS = {"train": 0.6, "val": 0.2, "test": 0.2}
CLASSES = ["ann", "bob", "cy"]


def test_split_fractions_per_class_and_no_overlap():
    labels = np.repeat([0, 1], [50, 100])
    groups = np.arange(150).astype(str)
    chosen = split_indices(labels, groups, FRACTIONS, seed=1, classes=CLASSES)
    assert {name: len(ix) for name, ix in chosen.items()} == {"train": 90, "val": 30, "test": 30}
    assert np.bincount(labels[chosen["test"]]).tolist() == [10, 20]
    assert len(set(np.concatenate(list(chosen.values())))) == 150


def test_split_is_seeded_and_random():
    labels = np.repeat([0, 1], 20)
    groups = np.arange(40).astype(str)
    a, b, c = (split_indices(labels, groups, FRACTIONS, seed=s, classes=CLASSES) for s in (1, 1, 2))
    assert all(np.array_equal(a[n], b[n]) for n in a)
    assert not np.array_equal(np.sort(a["test"]), np.sort(c["test"]))


def test_identical_images_never_land_in_two_splits():
    labels = np.repeat([0, 1], 20)
    groups = np.array([f"sha{i // 4}" for i in range(40)])
    chosen = split_indices(labels, groups, FRACTIONS, seed=0, classes=CLASSES)
    seen = {name: set(groups[ix]) for name, ix in chosen.items()}
    assert not (seen["train"] & seen["test"]) and not (seen["train"] & seen["val"]) and not (seen["val"] & seen["test"])


def test_stratified_folds_cover_every_example_once():
    labels = np.repeat([0, 1, 2], [10, 10, 20])
    folds = fold_indices(labels, np.arange(40), k=5, seed=0, classes=CLASSES)
    assert len(folds) == 5
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(40))
    for train, test in folds:
        assert not set(train) & set(test)
        assert np.bincount(labels[test]).tolist() == [2, 2, 4]


def test_k_equal_to_examples_is_leave_one_out():
    labels = np.array([0, 0, 1, 1, 1])
    folds = fold_indices(labels, np.arange(5), k=5, seed=0, classes=CLASSES)
    assert [len(test) for _, test in folds] == [1] * 5


def test_a_class_that_would_get_no_picture_in_a_split_is_refused_by_name():
    labels = np.repeat([0, 1], [20, 6])
    groups = np.array([f"a{i}" for i in range(20)] + ["b0", "b0", "b0", "b1", "b1", "b2"])  # 3 pictures of bob
    with pytest.raises(SplitError, match=r"class 'bob' has 3 distinct pictures \(6 images\), so split.val = 0.1 gives"):
        split_indices(labels, groups, {"train": 0.7, "val": 0.1, "test": 0.2}, seed=0, classes=CLASSES)
    chosen = split_indices(labels, groups, {"train": 0.8, "val": 0.0, "test": 0.2}, seed=0, classes=CLASSES)
    assert len(chosen["val"]) == 0 and np.bincount(labels[chosen["test"]]).tolist() == [4, 1]


def test_folds_count_pictures_not_files():
    labels = np.repeat([0, 1], [20, 6])  # bob: 6 images, 2 distinct pictures
    groups = np.array([f"a{i}" for i in range(20)] + ["b0", "b0", "b0", "b1", "b1", "b1"])
    with pytest.raises(KFoldError, match=r"kfold.k = 5 but class 'bob' has only 2 distinct pictures \(6 images\)"):
        fold_indices(labels, groups, k=5, seed=0, classes=CLASSES)
    for train, test in fold_indices(labels, groups, k=2, seed=0, classes=CLASSES):
        assert 1 in labels[test] and not set(groups[train]) & set(groups[test])


def test_leave_one_out_leaves_out_one_picture():
    labels = np.array([0, 0, 0, 1, 1])
    groups = np.array(["a", "a", "b", "c", "d"])
    folds = fold_indices(labels, groups, k=5, seed=0, classes=CLASSES)
    assert sorted(sorted(test.tolist()) for _, test in folds) == [[0, 1], [2], [3], [4]]


def test_k_larger_than_smallest_class_is_refused():
    labels = np.repeat([0, 1], [3, 30])
    with pytest.raises(KFoldError, match=r"kfold.k = 4 but class 'ann' has only 3 distinct pictures \(3 images\)"):
        fold_indices(labels, np.arange(33), k=4, seed=0, classes=CLASSES)
    with pytest.raises(KFoldError, match="larger than the number of examples"):
        fold_indices(labels, np.arange(33), k=40, seed=0, classes=CLASSES)


def test_summary_mean_and_std():
    folds = [FoldScore(0, 2, accuracy=0.5, f1_macro=0.4), FoldScore(1, 2, accuracy=1.0, f1_macro=0.6)]
    assert summarize_folds(folds) == {
        "accuracy": {"mean": 0.75, "std": 0.25},
        "f1_macro": {"mean": pytest.approx(0.5), "std": pytest.approx(0.1)},
    }


def test_folds_id_names_the_data_and_each_folds_examples():
    ids = {folds_id("data", [[0, 1], [2]]), folds_id("other", [[0, 1], [2]]), folds_id("data", [[0, 2], [1]])}
    assert len(ids) == 3 and all(len(identity) == 16 for identity in ids)
    assert folds_id("data", [[0, 1], [2]]) == folds_id("data", [[0, 1], [2]])


def fold_data(images, labels, data_id="") -> FoldData:
    return FoldData(from_arrays(images, labels), labels, np.arange(len(labels)).astype(str), CLASSES, data_id)


def cross_validate(images, labels, p, data_id="", **run):
    """Every fold of the tiny data, k = 3, collected: ``run`` makes the :class:`FoldPart`."""
    data = fold_data(images, labels, data_id)
    return collect_folds([train_folds(data, FoldSettings(3, p.seed, p.augment, p.model, p.train), FoldPart(**run))])


def test_cross_validation_trains_each_fold_and_pools_out_of_fold_predictions(tiny_params, tiny_arrays):
    images, labels = tiny_arrays
    p = tiny_params
    result = cross_validate(images, labels, p)
    report = result.report()
    assert report["k"] == 3 and [fold["fold"] for fold in report["folds"]] == [0, 1, 2]
    assert sum(fold["n_test"] for fold in report["folds"]) == len(labels)
    folds = fold_indices(labels, np.arange(len(labels)).astype(str), 3, p.seed, CLASSES)
    for fold, (_, test) in zip(report["folds"], folds, strict=True):
        assert fold["accuracy"] == pytest.approx(np.mean(result.predicted[test] == labels[test]))
    assert report["pooled"]["accuracy"] == pytest.approx(np.mean(result.predicted == labels))
    assert report["accuracy"]["mean"] == pytest.approx(np.mean([fold["accuracy"] for fold in report["folds"]]))
    np.testing.assert_array_equal(result.labels, labels)


def test_folds_trained_in_parts_give_the_serial_report(tmp_path, tiny_params, tiny_arrays):
    images, labels = tiny_arrays
    p = tiny_params
    settings = FoldSettings(3, p.seed, p.augment, p.model, p.train)
    parts = [train_folds(fold_data(images, labels), settings, FoldPart(part=part, parts=2)) for part in (1, 0)]
    assert [[fold["fold"] for fold in part["folds"]] for part in parts] == [[1], [0, 2]]
    assert collect_folds(parts).report() == cross_validate(images, labels, p).report()
    with pytest.raises(IncompleteFolds, match=r"miss folds \[1\] and repeat \[\] of 3"):
        collect_folds(parts[1:])
    with pytest.raises(IncompleteFolds, match=r"miss folds \[\] and repeat \[0, 2\] of 3"):
        collect_folds([parts[0], parts[1], parts[1]])
    with pytest.raises(IncompleteFolds, match="trained on different data"):
        collect_folds([parts[0], {**parts[1], "data": "other records"}])
    for part, result in enumerate(reversed(parts)):
        write_json(tmp_path / f"part-{part}.json", result)
    assert collect_folds(load_parts(tmp_path, [0, 1])).report() == collect_folds(parts).report()
    with pytest.raises(MissingInput, match=r"part-2.json: missing; run `dvc repro fold@2`"):
        load_parts(tmp_path, [0, 1, 2])


def test_split_records_follow_the_shuffled_order_one_shard_at_a_time(tmp_path, tiny_arrays):
    images, labels = tiny_arrays
    ids = [f"x{i}" for i in range(len(labels))]
    write_shards(zip(images, labels, ids, strict=True), tmp_path / "records", shard_size=7)
    chosen = split_indices(labels, np.asarray(ids), FRACTIONS, seed=3, classes=CLASSES)
    write_splits(tmp_path / "records", chosen, tmp_path / "split", shard_size=5)
    assert sorted(p.name for p in (tmp_path / "split").iterdir()) == ["test", "train", "val"]  # no scratch left
    for name, indices in chosen.items():
        got_images, got_labels, got_ids = read_arrays(tmp_path / "split" / name, 16)
        assert list(got_ids) == [ids[i] for i in indices]
        np.testing.assert_array_equal(got_images, images[indices])
        assert len(list((tmp_path / "split" / name).glob("part-*"))) == -(-len(indices) // 5)
    counts = split_counts(labels, chosen, ["a", "b", "c"])
    assert {(row["split"], row["class"]): row["count"] for row in counts}[("test", "b")] == 2
    assert sum(row["count"] for row in counts) == len(labels)


def test_kfold_resumes_at_the_first_unfinished_fold(tmp_path, tiny_params, tiny_arrays, monkeypatch):
    images, labels = tiny_arrays
    p = tiny_params
    straight = cross_validate(images, labels, p, data_id="d").report()
    real_predict, trainings = fold_stage.labels_and_probabilities, []

    def crash_in_second_fold(model, examples):
        if len(trainings) == 1:
            raise KeyboardInterrupt
        trainings.append(1)
        return real_predict(model, examples)

    monkeypatch.setattr(fold_stage, "labels_and_probabilities", crash_in_second_fold)
    with pytest.raises(KeyboardInterrupt):
        cross_validate(images, labels, p, backup_dir=tmp_path / "b", data_id="d")
    assert sorted(path.name for path in (tmp_path / "b").glob("*.json")) == ["fold-0.json"]
    real_fit, fits = fold_stage.fit, []
    monkeypatch.setattr(fold_stage, "labels_and_probabilities", real_predict)
    monkeypatch.setattr(fold_stage, "fit", lambda *a, **k: fits.append(1) or real_fit(*a, **k))
    resumed = cross_validate(images, labels, p, backup_dir=tmp_path / "b", data_id="d").report()
    assert len(fits) == 2 and resumed == straight and not (tmp_path / "b").exists()


def test_the_folds_progress_bar_shows_each_epochs_loss_and_speed():
    out = io.StringIO()
    with tqdm(total=2, file=out) as bar:
        progress = fold_stage.EpochProgress(bar, epochs=3, images_per_epoch=720)
        progress.on_epoch_begin(1)
        progress.on_epoch_end(1, {"loss": 0.25})
    assert re.search(r"epoch 2/3, loss 0\.2500, [0-9.]+ images/s", out.getvalue())
