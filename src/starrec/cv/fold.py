"""K-fold cross validation, as in the lecture: randomize, split into K folds, train K times.

    for i in range(K): train on every fold but i, test on fold i
    performance = mean over folds (:mod:`starrec.cv.kfold`)

Folds are stratified by class and keep the copies of a picture together
(:mod:`starrec.data.duplicates`); K equal to the number of examples is
leave-one-out (LOOCV, one picture per fold), where the pooled out-of-fold
scores are the meaningful number.

The folds are trained in parts (:func:`train_folds`; part p of n takes the
folds f with f mod n = p), one DVC stage each, so that different machines can
train them and the run-cache can hand them around; :func:`starrec.cv.kfold.collect_folds`
puts the parts together. Each fold's result depends only on the params and
the data, never on its part, so any split into parts gives the same report.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from starrec import artifacts
from starrec.cv.kfold import score
from starrec.cv.splits import fold_indices
from starrec.data.augment import with_augmented_copies
from starrec.data.manifest import group_by_id, load_classes
from starrec.data.records import content_hash, read_labels_and_ids, read_records
from starrec.params import AugmentParams, ModelParams, RuntimeParams, TrainParams
from starrec.train.inference import labels_and_probabilities
from starrec.train.preprocess import normalization_stats
from starrec.train.resume import fingerprint, load_finished, save_finished
from starrec.train.training import EpochRate, RunOptions, TrainingData, fit


class EpochProgress(EpochRate):
    """Shows the epoch inside the current fold, its loss and its training images per second on the folds'
    progress bar."""

    def __init__(self, bar: tqdm, epochs: int, images_per_epoch: int) -> None:
        super().__init__(images_per_epoch, epochs)
        self.bar = bar

    def show(self, epoch: int, logs: dict, rate: float) -> None:
        loss = logs.get("loss", float("nan"))
        self.bar.set_postfix_str(f"epoch {epoch + 1}/{self.epochs}, loss {loss:.4f}, {rate:.1f} images/s")


@dataclass(frozen=True)
class FoldData:
    """What the folds divide: examples (train + val, streamed, never held in memory), each one's label and
    picture group (the copies of a picture stay in one fold), the class names, and ``data_id``, a hash of
    the data that a resumed run must match."""

    examples: tf.data.Dataset
    labels: np.ndarray
    groups: np.ndarray
    classes: list[str]
    data_id: str = ""

    @classmethod
    def from_splits(
        cls,
        size: int,
        train: Path = artifacts.TRAIN_SPLIT,
        val: Path = artifacts.VAL_SPLIT,
        manifest: Path = artifacts.MANIFEST,
        interim: Path = artifacts.INTERIM,
    ) -> FoldData:
        """The train and val splits' records together at ``size`` pixels (the folds never see the test split)."""
        examples = read_records(train, size).concatenate(read_records(val, size))
        labels, ids = (
            np.concatenate(column) for column in zip(read_labels_and_ids(train), read_labels_and_ids(val), strict=True)
        )
        return cls(examples, labels, group_by_id(manifest, ids), load_classes(interim), content_hash(train, val))

    def subset(self, indices: np.ndarray) -> FoldData:
        """The examples at ``indices`` (positions, increasing), as data of their own."""
        indices = np.asarray(indices)
        return FoldData(
            examples_at(self.examples, len(self.labels), indices),
            self.labels[indices],
            self.groups[indices],
            self.classes,
            fingerprint(self.data_id, indices.tolist())[:16],
        )


@dataclass(frozen=True)
class FoldPart:
    """Which folds this process trains (part ``part`` of ``parts``: the folds f with f mod parts = part),
    where it keeps finished folds and epoch backups (None: no resume), its tf.distribute strategy and the label
    of its progress bar."""

    part: int = 0
    parts: int = 1
    backup_dir: Path | None = None
    strategy: tf.distribute.Strategy | None = None
    description: str = ""  # the progress bar's label (default: k-fold part P)


@dataclass(frozen=True)
class FoldSettings:
    """What every fold's training is made of: ``k`` folds of the ``seed``, and the augment, model and train
    params; and how it runs (``runtime``: no part of any result or fingerprint)."""

    k: int
    seed: int
    augment: AugmentParams
    model: ModelParams
    train: TrainParams
    runtime: RuntimeParams = RuntimeParams()


def train_folds(data: FoldData, settings: FoldSettings, run: FoldPart = FoldPart()) -> dict:
    """Train part ``run.part`` of ``run.parts``: a fresh model per fold f on the other folds (augmented,
    normalised with their own statistics), predicting fold f.

    Returns ``{"k", "n_folds", "data", "folds": [{"fold", "test_index", "truth", "predicted", "score"}]}``
    (JSON-ready; ``data`` is ``data.data_id``). With ``run.backup_dir``, each finished fold is kept there
    and each fold's training is backed up per epoch: a rerun with the same params and ``data_id`` starts at
    the first unfinished fold (and epoch).
    """
    n_folds = len(fold_indices(data.labels, data.groups, settings.k, settings.seed, data.classes))
    return {"k": settings.k, "n_folds": n_folds, "data": data.data_id, "folds": list(each_fold(data, settings, run))}


def each_fold(data: FoldData, settings: FoldSettings, run: FoldPart = FoldPart()) -> Iterator[dict]:
    """The results of :func:`train_folds`' folds one by one, as each finishes (a search scores them as they
    come); ``run.backup_dir`` is removed after the last one."""
    seed, augment = settings.seed, settings.augment
    folds = fold_indices(data.labels, data.groups, settings.k, seed, data.classes)
    fold_of = np.zeros(len(data.labels), np.int64)
    for number, (_, test_index) in enumerate(folds):
        fold_of[test_index] = number
    subsets = FoldSubsets(data.examples, fold_of)
    expected = fingerprint(augment, settings.model, settings.train, seed, settings.k, data.data_id)
    mine = [number for number in range(len(folds)) if number % run.parts == run.part]
    with tqdm(total=len(mine), desc=run.description or f"k-fold part {run.part}", unit="fold") as bar:
        for number in mine:
            train_index, test_index = folds[number]
            saved = run.backup_dir and load_finished(run.backup_dir / f"fold-{number}.json", expected)
            if not saved:
                train, test = subsets.train(number), subsets.test(number)
                images_per_epoch = len(train_index) * (augment.copies + 1)
                options = RunOptions(
                    callbacks=[EpochProgress(bar, settings.train.epochs, images_per_epoch)],
                    verbose=0,
                    backup_dir=run.backup_dir and run.backup_dir / f"fold-{number}",
                    strategy=run.strategy,
                    runtime=settings.runtime,
                )
                fold_id = f"{expected} fold {number}"  # a backup resumes this fold only
                fold_data = fold_training_data(train, images_per_epoch, len(data.classes), augment, seed, fold_id)
                model, _ = fit(fold_data, settings.model, settings.train, seed, options)
                saved = fold_result(number, test_index, model, test)
                if run.backup_dir:
                    save_finished(run.backup_dir / f"fold-{number}.json", expected, saved)
            bar.update()
            yield saved
    if run.backup_dir:
        shutil.rmtree(run.backup_dir, ignore_errors=True)


def examples_at(examples: tf.data.Dataset, size: int, indices: np.ndarray) -> tf.data.Dataset:
    """The examples at positions ``indices`` of the ``size`` in ``examples``, streamed in their order."""
    mask = np.zeros(size, bool)
    mask[indices] = True
    table = tf.constant(mask)
    return examples.enumerate().filter(lambda index, _: tf.gather(table, index)).map(lambda _, example: example)


class FoldSubsets:
    """The examples of fold f (``test``) and of every other fold (``train``), by each example's position."""

    def __init__(self, examples: tf.data.Dataset, fold_of: np.ndarray) -> None:
        self.indexed, self.table = examples.enumerate(), tf.constant(fold_of)

    def _where(self, keep: Callable[[tf.Tensor], tf.Tensor]) -> tf.data.Dataset:
        return self.indexed.filter(lambda index, _: keep(tf.gather(self.table, index))).map(lambda _, example: example)

    def train(self, number: int) -> tf.data.Dataset:
        return self._where(lambda fold: fold != number)  # one lambda per line: AutoGraph reads each one's source

    def test(self, number: int) -> tf.data.Dataset:
        return self._where(lambda fold: fold == number)


def fold_training_data(
    train: tf.data.Dataset, images_per_epoch: int, num_classes: int, augment: AugmentParams, seed: int, data_id: str
) -> TrainingData:
    """A fold's training data: its examples with their augmented copies, normalised with their own statistics."""
    images = (batch["image"] for batch in train.batch(256).as_numpy_iterator())
    examples = with_augmented_copies(train, augment, seed)
    stats = normalization_stats(images, augment.grayscale)
    return TrainingData(examples, images_per_epoch, num_classes, stats, data_id=data_id)


def fold_result(number: int, test_index: np.ndarray, model: keras.Model, test: tf.data.Dataset) -> dict:
    """Fold ``number``'s predictions of its test examples and its score (JSON-ready)."""
    truth, probabilities = labels_and_probabilities(model, test)
    predicted = probabilities.argmax(axis=1)
    return {
        "fold": number,
        "test_index": test_index.tolist(),
        "truth": truth.tolist(),
        "predicted": predicted.tolist(),
        "score": asdict(score(number, truth, predicted)),
    }
