"""Seed everything, build the model and optimiser from params, and fit."""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from pathlib import Path

import keras
import tensorflow as tf
from dvclive.keras import DVCLiveCallback

from starrec.datasets import batches, cache_mode, resolve_batch_size, steps_per_epoch, training_batches
from starrec.errors import StarrecError
from starrec.hardware import resolve_precision
from starrec.model import build_model
from starrec.optim import make_optimizer
from starrec.params import ModelParams, TrainParams
from starrec.preprocess import NormalizationStats
from starrec.resume import EpochBackup, fingerprint, load_backup


class TrainingDiverged(StarrecError, RuntimeError):
    """The loss became NaN or infinite; the message names the params to change."""


def set_determinism(seed: int) -> None:
    """Seed Python, NumPy and TF, and make TF ops deterministic (same params, same weights)."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


class ScheduleLogger(keras.callbacks.Callback):
    """Adds the effective learning rate (alpha) and momentum (epsilon) to each epoch's logs."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        optimizer = self.model.optimizer
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # under mixed_float16 loss scaling
        last_step = optimizer.iterations - 1
        logs["learning_rate"] = float(optimizer.learning_rate_at(last_step))
        logs["momentum"] = float(optimizer.momentum_at(last_step))


class DivergenceGuard(keras.callbacks.Callback):
    """Stops with :class:`TrainingDiverged` when an epoch's loss is NaN or infinite.

    It looks once per epoch: a per-batch check would wait for every step's
    result and keep the CPU from running ahead.
    """

    def __init__(self, train: TrainParams):
        super().__init__()
        self.train = train

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            train = self.train
            raise TrainingDiverged(
                f"the training loss became {loss} in epoch {epoch + 1}: the optimisation diverged. "
                f"Lower train.learning_rate (now {train.learning_rate}) or train.momentum "
                f"(now {train.momentum}), or use a larger train.batch_size (now {train.batch_size})."
            )


class Throughput(keras.callbacks.Callback):
    """Prints the training images per second of each epoch."""

    def __init__(self, images_per_epoch: int):
        super().__init__()
        self.images_per_epoch = images_per_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        print(f"epoch {epoch + 1}: {self.images_per_epoch / (time.perf_counter() - self.started):.1f} images/s")


class LiveMetrics(DVCLiveCallback):
    """dvclive's Keras callback; :meth:`replay_epoch` re-logs an epoch that a resumed run restored."""

    def replay_epoch(self, epoch: int, logs: dict) -> None:
        self.on_epoch_end(epoch, logs)


def compiled_model(
    image_size: int,
    num_classes: int,
    stats: NormalizationStats,
    model_params: ModelParams,
    train_params: TrainParams,
    steps_per_epoch: int,
) -> keras.Model:
    """A fresh model in ``train.precision`` (``auto`` resolved), compiled with the lecture's optimiser,
    cross-entropy and accuracy; under ``mixed_float16`` the optimiser scales the loss."""
    precision = resolve_precision(train_params.precision)
    model = build_model(image_size, num_classes, model_params, stats, precision)
    optimizer = make_optimizer(train_params, steps_per_epoch)
    if precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model


def fit(
    train_examples: tf.data.Dataset,
    n_train: int,
    num_classes: int,
    stats: NormalizationStats,
    model_params: ModelParams,
    train_params: TrainParams,
    seed: int,
    val_examples: tf.data.Dataset | None = None,
    callbacks: list[keras.callbacks.Callback] = (),
    verbose: int | str = 2,
    backup_dir: Path | None = None,
    data_id: str = "",
) -> tuple[keras.Model, keras.callbacks.History]:
    """Train a fresh model on parsed-example datasets; early stopping needs ``val_examples``.

    The image size is the examples' own (their ``image`` is size x size x 3).
    With ``backup_dir``, every epoch is backed up there and a run with the
    same params, statistics and ``data_id`` (a hash of the data) resumes
    after the last backed-up epoch; a finished fit removes the backup.
    Callbacks with ``replay_epoch(epoch, logs)`` are first shown the restored epochs.
    """
    set_determinism(seed)
    image_size = train_examples.element_spec["image"].shape[0]
    batch_size = resolve_batch_size(train_params.batch_size, n_train)
    steps = steps_per_epoch(train_params, n_train)
    model = compiled_model(image_size, num_classes, stats, model_params, train_params, steps)
    all_callbacks = [DivergenceGuard(train_params), ScheduleLogger()]
    early_stopping = None
    if train_params.early_stopping_patience > 0 and val_examples is not None:
        early_stopping = keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=train_params.early_stopping_patience, restore_best_weights=True
        )
        all_callbacks.append(early_stopping)
    restored = None
    if backup_dir is not None:
        expected = fingerprint(model_params, train_params, seed, n_train, num_classes, stats, data_id)
        restored = load_backup(backup_dir, expected)
        all_callbacks.append(EpochBackup(backup_dir, expected, restored, early_stopping))
    first_epoch = restored.epoch if restored else 0
    if verbose:
        print(f"training in {resolve_precision(train_params.precision)} (train.precision: {train_params.precision})")
    if restored and verbose:
        print(f"resuming after epoch {first_epoch} from the backup in {backup_dir}")
    for callback in callbacks:
        for epoch in range(first_epoch):
            if hasattr(callback, "replay_epoch"):
                callback.replay_epoch(epoch, {name: values[epoch] for name, values in restored.history.items()})
    if verbose:
        all_callbacks.append(Throughput(n_train))
    cache = cache_mode(train_params.cache, n_train, image_size)
    with tempfile.TemporaryDirectory(prefix="starrec-cache-") as scratch:
        history = model.fit(
            training_batches(
                train_examples,
                batch_size,
                seed,
                # at least one epoch, so that Keras can build the model even when all were restored
                range(first_epoch, max(first_epoch + 1, train_params.epochs)),
                cache,
                Path(scratch) / "train",
            ),
            validation_data=None if val_examples is None else batches(val_examples, batch_size),
            epochs=train_params.epochs,
            initial_epoch=first_epoch,
            steps_per_epoch=steps,
            callbacks=[*all_callbacks, *callbacks],
            shuffle=False,
            verbose=verbose,
        )
    if restored:
        history.history = {name: restored.history.get(name, []) + values for name, values in history.history.items()}
        history.epoch = list(range(len(next(iter(history.history.values()), []))))
    if backup_dir is not None:
        shutil.rmtree(backup_dir, ignore_errors=True)
    return model, history
