"""Seed everything, build the model and optimiser from params, and fit."""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from starrec.datasets import batches, resolve_batch_size, steps_per_epoch
from starrec.errors import StarrecError
from starrec.model import build_model
from starrec.optim import make_optimizer
from starrec.params import ModelParams, TrainParams
from starrec.preprocess import NormalizationStats


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
        last_step = optimizer.iterations - 1
        logs["learning_rate"] = float(optimizer.learning_rate_at(last_step))
        logs["momentum"] = float(optimizer.momentum_at(last_step))


class DivergenceGuard(keras.callbacks.Callback):
    """Stops with :class:`TrainingDiverged` as soon as a batch loss is NaN or infinite."""

    def __init__(self, train: TrainParams):
        super().__init__()
        self.train = train

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            train = self.train
            raise TrainingDiverged(
                f"the training loss became {loss} at batch {batch}: the optimisation diverged. "
                f"Lower train.learning_rate (now {train.learning_rate}) or train.momentum "
                f"(now {train.momentum}), or use a larger train.batch_size (now {train.batch_size})."
            )


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
) -> tuple[keras.Model, keras.callbacks.History]:
    """Train a fresh model on parsed-example datasets; early stopping needs ``val_examples``.

    The image size is the examples' own (their ``image`` is size x size x 3).
    """
    set_determinism(seed)
    image_size = train_examples.element_spec["image"].shape[0]
    batch_size = resolve_batch_size(train_params.batch_size, n_train)
    model = build_model(image_size, num_classes, model_params, stats)
    model.compile(
        optimizer=make_optimizer(train_params, steps_per_epoch(train_params, n_train)),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    all_callbacks = [DivergenceGuard(train_params), ScheduleLogger()]
    if train_params.early_stopping_patience > 0 and val_examples is not None:
        all_callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=train_params.early_stopping_patience, restore_best_weights=True
            )
        )
    train_examples = train_examples.apply(tf.data.experimental.assert_cardinality(n_train))
    history = model.fit(
        batches(train_examples, batch_size, shuffle_seed=seed),
        validation_data=None if val_examples is None else batches(val_examples, batch_size),
        epochs=train_params.epochs,
        callbacks=[*all_callbacks, *callbacks],
        shuffle=False,
        verbose=verbose,
    )
    return model, history


def predict_labels(
    model: keras.Model, examples: tf.data.Dataset, batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """(true labels, class probabilities) for every example, in order."""
    labels, probabilities = [], []
    for images, batch_labels in batches(examples, batch_size):
        probabilities.append(model(images, training=False).numpy())
        labels.append(batch_labels.numpy())
    if not labels:
        return np.zeros(0, np.int64), np.zeros((0, model.output_shape[-1]), np.float32)
    return np.concatenate(labels), np.concatenate(probabilities)
