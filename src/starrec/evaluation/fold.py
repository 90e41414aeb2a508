"""K-fold cross validation, as in the lecture: randomize, split into K folds, train K times.

    for i in range(K): train on every fold but i, test on fold i
    performance = mean over folds (:mod:`starrec.evaluation.kfold`)

Folds are stratified by class and keep the copies of a picture together
(:mod:`starrec.data.duplicates`); K equal to the number of examples is
leave-one-out (LOOCV, one picture per fold), where the pooled out-of-fold
scores are the meaningful number.

The folds are trained in parts (:func:`train_folds`; part p of n takes the
folds f with f mod n = p), one DVC stage each, so that different machines can
train them and the run-cache can hand them around; :func:`starrec.evaluation.kfold.collect_folds`
puts the parts together. Each fold's result depends only on the params and
the data, never on its part, so any split into parts gives the same report.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from sklearn.model_selection import LeaveOneGroupOut, StratifiedGroupKFold
from tqdm import tqdm

from starrec.data.augment import with_augmented_copies
from starrec.errors import StarrecError
from starrec.evaluation.inference import labels_and_probabilities
from starrec.evaluation.kfold import score
from starrec.params import AugmentParams, ModelParams, TrainParams
from starrec.train.preprocess import normalization_stats
from starrec.train.resume import fingerprint, load_finished, result_params, save_finished
from starrec.train.training import fit


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


class EpochProgress(keras.callbacks.Callback):
    """Shows the epoch inside the current fold, its loss and its training images per second on the folds'
    progress bar."""

    def __init__(self, bar: tqdm, epochs: int, images_per_epoch: int):
        super().__init__()
        self.bar, self.epochs, self.images_per_epoch = bar, epochs, images_per_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        rate = self.images_per_epoch / (time.perf_counter() - self.started)
        loss = (logs or {}).get("loss", float("nan"))
        self.bar.set_postfix_str(f"epoch {epoch + 1}/{self.epochs}, loss {loss:.4f}, {rate:.1f} images/s")


def train_folds(
    examples: tf.data.Dataset,
    labels: np.ndarray,
    groups: np.ndarray,
    classes: list[str],
    k: int,
    seed: int,
    augment: AugmentParams,
    model_params: ModelParams,
    train_params: TrainParams,
    part: int = 0,
    parts: int = 1,
    backup_dir: Path | None = None,
    data_id: str = "",
    strategy: tf.distribute.Strategy | None = None,
) -> dict:
    """Train part ``part`` of ``parts``: a fresh model per fold f (f mod parts = part) on the other
    folds (augmented, normalised with their own statistics), predicting fold f; ``examples``
    are streamed, never held in memory.

    Returns ``{"k", "n_folds", "data", "folds": [{"fold", "test_index", "truth", "predicted", "score"}]}``
    (JSON-ready; ``data`` is ``data_id``). With ``backup_dir``, each finished fold is kept there
    and each fold's training is backed up per epoch: a rerun with the same params and ``data_id``
    starts at the first unfinished fold (and epoch).
    """
    folds = fold_indices(labels, groups, k, seed, classes)
    fold_of = np.zeros(len(labels), np.int64)
    for number, (_, test_index) in enumerate(folds):
        fold_of[test_index] = number
    table = tf.constant(fold_of)
    indexed = examples.enumerate()

    def subset(keep) -> tf.data.Dataset:
        return indexed.filter(lambda index, _: keep(tf.gather(table, index))).map(lambda _, example: example)

    expected = fingerprint(augment, model_params, result_params(train_params), seed, k, data_id)

    def run_fold(number: int, n_train: int, test_index: np.ndarray, bar: tqdm) -> dict:
        """Train on every fold but ``number``, predict ``number``: its predictions and score."""
        train = subset(lambda fold: fold != number)  # one lambda per line: AutoGraph reads each one's source
        test = subset(lambda fold: fold == number)
        images = (batch["image"] for batch in train.batch(256).as_numpy_iterator())
        images_per_epoch = n_train * (augment.copies + 1)
        model, _ = fit(
            with_augmented_copies(train, augment, seed),
            images_per_epoch,
            len(classes),
            normalization_stats(images, augment.grayscale),
            model_params,
            train_params,
            seed,
            callbacks=[EpochProgress(bar, train_params.epochs, images_per_epoch)],
            verbose=0,
            backup_dir=backup_dir and backup_dir / f"fold-{number}",
            data_id=f"{expected} fold {number}",
            strategy=strategy,
        )
        truth, probabilities = labels_and_probabilities(model, test)
        predicted = probabilities.argmax(axis=1)
        return {
            "fold": number,
            "test_index": test_index.tolist(),
            "truth": truth.tolist(),
            "predicted": predicted.tolist(),
            "score": asdict(score(number, truth, predicted)),
        }

    mine = [number for number in range(len(folds)) if number % parts == part]
    results = []
    with tqdm(total=len(mine), desc=f"k-fold part {part}", unit="fold") as bar:
        for number in mine:
            train_index, test_index = folds[number]
            saved = backup_dir and load_finished(backup_dir / f"fold-{number}.json", expected)
            if not saved:
                saved = run_fold(number, len(train_index), test_index, bar)
                if backup_dir:
                    save_finished(backup_dir / f"fold-{number}.json", expected, saved)
            results.append(saved)
            bar.update()
    if backup_dir:
        shutil.rmtree(backup_dir, ignore_errors=True)
    return {"k": k, "n_folds": len(folds), "data": data_id, "folds": results}
