"""Seed everything, build the model and optimiser from params, and train: one loop for every
tf.distribute strategy."""

from __future__ import annotations

import contextlib
import math
import re
import shutil
import sys
import tempfile
import time
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from dvclive.keras import DVCLiveCallback

from starrec.atomic import atomic_path
from starrec.data.datasets import batches, cache_mode, resolve_batch_size, steps_per_epoch, training_batches
from starrec.errors import StarrecError
from starrec.hardware import resolve_precision
from starrec.params import ModelParams, RuntimeParams, TrainParams
from starrec.train.distribute import DistributeError, broadcast_from_chief, is_multi_worker
from starrec.train.network import build_model
from starrec.train.optim import make_optimizer
from starrec.train.preprocess import NormalizationStats
from starrec.train.resume import EpochBackup, fingerprint, load_backup


class TrainingDiverged(StarrecError, RuntimeError):
    """The loss became NaN or infinite; the message names the params to change."""


TF_SEED_RANGE = 2**31 - 1
"""TensorFlow reduces its global seed modulo this (``random_seed._truncate_seed``)."""


def set_determinism(seed: int) -> None:
    """Seed Python, NumPy and TF, and make TF ops deterministic (same params, same weights).

    A TF global seed that truncates to 0 becomes ``TF_SEED_RANGE - 1``: TensorFlow's ``get_seed`` compares
    (global, op seed) with (0, 0) in Python, which fails for the epochs' shuffles, whose op seed is a tensor.
    """
    keras.utils.set_random_seed(seed)
    if seed % TF_SEED_RANGE == 0:
        tf.random.set_seed(TF_SEED_RANGE - 1)
    tf.config.experimental.enable_op_determinism()


class ScheduleLogger(keras.callbacks.Callback):
    """Adds the effective learning rate (alpha) and momentum (epsilon) to each epoch's logs."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None:
            return
        optimizer = self.model.optimizer
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # under mixed_float16 loss scaling
        last_step = optimizer.iterations - 1
        logs["learning_rate"] = float(optimizer.learning_rate_at(last_step))
        logs["momentum"] = float(optimizer.momentum_at(last_step))


STUCK_AFTER_EPOCHS = 3
"""After this many epochs, a training accuracy under :data:`STUCK_FACTOR` / classes is called stuck."""
STUCK_FACTOR = 1.5


def stuck_line(accuracy: float, epochs: int, classes: int, train: TrainParams) -> str | None:
    """One line when the training accuracy after ``epochs`` epochs is still about chance (1 / ``classes``),
    naming the usual causes; None while it learns. A step's noise grows as the batch shrinks, so a learning
    rate that suits batch 32 can keep batch 1 at chance (the lecture: stochastic learning needs a smaller
    alpha)."""
    if accuracy >= STUCK_FACTOR / classes:
        return None
    return (
        f"training accuracy {accuracy:.3f} after {epochs} epochs is about chance (1/{classes} = {1 / classes:.3f}): "
        f"the network is not learning. Usual causes: train.learning_rate {train.learning_rate} too large for "
        f"train.batch_size {train.batch_size} (scale alpha with the batch: try a tenth), train.momentum "
        f"{train.momentum} too high, or labels that do not match the images"
    )


class DivergenceGuard(keras.callbacks.Callback):
    """Stops with :class:`TrainingDiverged` when an epoch's loss is NaN or infinite, and says once, after
    :data:`STUCK_AFTER_EPOCHS` epochs, when the training accuracy is still about chance (:func:`stuck_line`).

    It looks once per epoch: a per-batch check would wait for every step's
    result and keep the CPU from running ahead.
    """

    def __init__(self, train: TrainParams, classes: int = 0) -> None:
        super().__init__()
        self.train, self.classes = train, classes

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        accuracy = (logs or {}).get("accuracy")
        if epoch + 1 == STUCK_AFTER_EPOCHS and accuracy is not None and self.classes > 1:
            line = stuck_line(float(accuracy), epoch + 1, self.classes, self.train)
            if line:
                print(f"warning: {line}", file=sys.stderr, flush=True)
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            train = self.train
            raise TrainingDiverged(
                f"the training loss became {loss} in epoch {epoch + 1}: the optimisation diverged. "
                f"Lower train.learning_rate (now {train.learning_rate}) or train.momentum "
                f"(now {train.momentum}), or use a larger train.batch_size (now {train.batch_size})."
            )


class EpochRate(keras.callbacks.Callback):
    """Times each epoch and hands :meth:`show` its logs and its training images per second (the one timer of
    the train stage's lines and the folds' progress bar)."""

    def __init__(self, images_per_epoch: int, epochs: int) -> None:
        super().__init__()
        self.images_per_epoch, self.epochs = images_per_epoch, epochs

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.show(epoch, logs or {}, self.images_per_epoch / (time.perf_counter() - self.started))

    def show(self, epoch: int, logs: dict, rate: float) -> None:
        raise NotImplementedError


class EpochLine(EpochRate):
    """Prints each epoch's logs and its training images per second."""

    def show(self, epoch: int, logs: dict, rate: float) -> None:
        values = " ".join(f"{name} {value:.4g}" for name, value in logs.items())
        print(f"epoch {epoch + 1}/{self.epochs}: {values}; {rate:.1f} images/s", flush=True)


class LiveMetrics(DVCLiveCallback):
    """dvclive's Keras callback writing to ``partial`` while training and moving it to ``directory`` when
    the training ends, so that a killed run leaves no half result where ``dvc metrics show`` and
    ``dvc plots show`` look; :meth:`replay_epoch` re-logs an epoch that a resumed run restored."""

    def __init__(self, directory: Path, partial: Path) -> None:
        super().__init__(dir=str(partial), dvcyaml=None, save_dvc_exp=False, report=None)
        self.directory, self.partial = Path(directory), Path(partial)

    def replay_epoch(self, epoch: int, logs: dict) -> None:
        self.on_epoch_end(epoch, logs)

    def on_train_end(self, logs: dict | None = None) -> None:
        super().on_train_end(logs)  # dvclive's live.end(): its last files
        with atomic_path(self.directory) as final:
            shutil.move(self.partial, final)


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


@dataclass(frozen=True)
class TrainingData:
    """What a fit learns from: parsed examples (``image`` size x size x 3, ``label``), ``n_examples`` of them
    per epoch, ``num_classes``, their normalisation statistics, validation examples (early stopping needs
    them) and ``data_id``, a hash of the data that a resumed run must match."""

    examples: tf.data.Dataset
    n_examples: int
    num_classes: int
    stats: NormalizationStats
    val_examples: tf.data.Dataset | None = None
    data_id: str = ""

    @property
    def image_size(self) -> int:
        return int(self.examples.element_spec["image"].shape[0])


@dataclass(frozen=True)
class RunOptions:
    """How a fit runs, whatever it learns: Keras callbacks (those with ``replay_epoch(epoch, logs)`` are first
    shown the epochs a resumed run restored), printing, the backup folder (None: no resume), the
    tf.distribute strategy (None: this process) and the ``runtime`` params (backup interval, cache)."""

    callbacks: Sequence[keras.callbacks.Callback] = ()
    verbose: int = 1
    backup_dir: Path | None = None
    strategy: tf.distribute.Strategy | None = None
    runtime: RuntimeParams = RuntimeParams()


def fit(
    data: TrainingData, model_params: ModelParams, train_params: TrainParams, seed: int, run: RunOptions = RunOptions()
) -> tuple[keras.Model, keras.callbacks.History]:
    """Train a fresh model on ``data``.

    One loop for every ``run.strategy`` (:mod:`starrec.train.distribute`): each step all-reduces the
    gradients of ``train.batch_size`` examples spread over the replicas, loss = mean cross-entropy + L2
    penalty, and Keras callbacks see each epoch's ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``,
    ``learning_rate`` and ``momentum``.

    With ``run.backup_dir``, epochs are backed up there (``runtime.backup_every_s``) and a run with the same
    params, statistics and ``data.data_id`` resumes after the last backed-up epoch (other workers take the
    chief's state); a finished fit removes the backup.
    """
    strategy = run.strategy or tf.distribute.get_strategy()
    set_determinism(seed)
    steps = steps_per_epoch(train_params, data.n_examples)
    with strategy.scope():
        model = compiled_model(data.image_size, data.num_classes, data.stats, model_params, train_params, steps)
        model.optimizer.build(model.trainable_variables)
    early_stopping = None
    if train_params.early_stopping_patience > 0 and data.val_examples is not None:
        early_stopping = keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=train_params.early_stopping_patience, restore_best_weights=True
        )
    restored = None
    backups = []
    if run.backup_dir is not None:
        fingerprinted = (data.n_examples, data.num_classes, data.stats, data.data_id)
        expected = fingerprint(model_params, train_params, seed, *fingerprinted)
        restored = load_backup(run.backup_dir, expected)
        every_s, last = run.runtime.backup_every_s, train_params.epochs
        backups.append(EpochBackup(run.backup_dir, expected, restored, early_stopping, every_s, last))
    history = keras.callbacks.History()
    progress = [EpochLine(data.n_examples, train_params.epochs)] if run.verbose else []
    guards = [DivergenceGuard(train_params, data.num_classes), ScheduleLogger()]
    guards += [early_stopping] if early_stopping else []
    callback_list = keras.callbacks.CallbackList([*guards, *backups, *progress, *run.callbacks, history], model=model)
    if run.verbose:
        print(
            f"training on {data.n_examples} images in {resolve_precision(train_params.precision)}"
            f" (train.precision: {train_params.precision})"
            f" on {strategy.num_replicas_in_sync} replica(s) (train.distribute)"
        )
    callback_list.on_train_begin()
    first_epoch = _agree_on_the_start(strategy, model, restored, early_stopping)
    if restored:
        if run.verbose:
            print(f"resuming after epoch {first_epoch} from the backup in {run.backup_dir}")
        for callback in run.callbacks:
            for epoch in range(first_epoch):
                if hasattr(callback, "replay_epoch"):
                    callback.replay_epoch(epoch, {name: values[epoch] for name, values in restored.history.items()})
    with _lost_workers_reported(strategy), _backups_joined(backups):
        epochs = range(first_epoch, train_params.epochs)
        _train_epochs(model, strategy, data, train_params, seed, epochs, callback_list, run.runtime.cache)
    callback_list.on_train_end()
    if restored:
        history.history = {name: restored.history.get(name, []) + values for name, values in history.history.items()}
        history.epoch = list(range(len(next(iter(history.history.values()), []))))
    if run.backup_dir is not None:
        shutil.rmtree(run.backup_dir, ignore_errors=True)
    return model, history


def _train_epochs(
    model: keras.Model,
    strategy: tf.distribute.Strategy,
    data: TrainingData,
    train_params: TrainParams,
    seed: int,
    epochs: range,
    callback_list: keras.callbacks.CallbackList,
    cache: str,
) -> None:
    """The epochs' loop: one compiled epoch of training steps, then validation, then the callbacks; the pixels
    kept after their first pass as ``cache`` (``runtime.cache``) says."""
    batch_size = resolve_batch_size(train_params.batch_size, data.n_examples)
    steps = tf.constant(steps_per_epoch(train_params, data.n_examples), tf.int64)
    steps_of = _Steps(model, strategy)
    cache = cache_mode(cache, data.n_examples, data.image_size)
    model.stop_training = False
    with tempfile.TemporaryDirectory(prefix="starrec-cache-") as scratch:
        batches_of_epochs = training_batches(data.examples, batch_size, seed, epochs, cache, Path(scratch) / "t")
        iterator = iter(strategy.experimental_distribute_dataset(_loop_input(batches_of_epochs)))
        validation = None
        if data.val_examples is not None:  # one iterator for every epoch: a new one cost ~100 ms an epoch
            val_batches = batches(data.val_examples, batch_size, cache, Path(scratch) / "v")
            val_steps = tf.constant(-(-_count(val_batches) // batch_size), tf.int64)
            validation = iter(strategy.experimental_distribute_dataset(_loop_input(val_batches.repeat())))
        for epoch in epochs:
            callback_list.on_epoch_begin(epoch)
            logs = _named(steps_of.train_epoch(iterator, steps), "")
            if validation is not None:
                logs |= _named(steps_of.evaluate(validation, val_steps), "val_")
            callback_list.on_epoch_end(epoch, logs)
            if model.stop_training:
                break


@contextlib.contextmanager
def _backups_joined(backups: list[EpochBackup]) -> Iterator[None]:
    """On an error, the backup being written is finished first (the next run resumes from it)."""
    try:
        yield
    except BaseException:
        for backup in backups:
            with contextlib.suppress(Exception):
                backup.join()
        raise


@contextlib.contextmanager
def _lost_workers_reported(strategy: tf.distribute.Strategy) -> Iterator[None]:
    """A lost worker of a multi-worker run (TensorFlow notices within seconds: heartbeats) as one line."""
    try:
        yield
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.AbortedError) as error:
        if not is_multi_worker(strategy):
            raise
        tasks = sorted(set(re.findall(r"/job:\w+/replica:\d+/task:\d+", error.message)))
        lost = ", ".join(tasks) or error.message.strip().splitlines()[-1]
        raise DistributeError(
            f"train.distribute multi_worker: lost contact with {lost}; every worker stops. Start all of them "
            "again: the chief resumes after its last finished epoch"
        ) from None


def _loop_input(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """``dataset`` as the loop's long-lived iterators read it: each worker takes its share of every global batch
    (auto-sharding by element, not by file), and no tf.data autotune thread to wait for at the end, whatever
    the data came from (:func:`starrec.data.records.record_dataset` says why)."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    options.autotune.enabled = False
    return dataset.with_options(options)


def _count(batched: tf.data.Dataset) -> int:
    """The examples in ``batched`` (one pass; it fills a cache)."""
    return int(batched.reduce(tf.constant(0, tf.int64), lambda count, batch: count + tf.shape(batch[1], tf.int64)[0]))


def _named(totals: tf.Tensor, prefix: str) -> dict[str, float]:
    """``{loss, accuracy}`` from summed (loss x examples, correct, examples)."""
    loss_sum, correct, count = (float(value) for value in totals)
    return {f"{prefix}accuracy": correct / count, f"{prefix}loss": loss_sum / count}


class _Steps:
    """The compiled training and evaluation loops of one model under one strategy.

    Each replica returns (loss x its examples, its correct predictions, its
    examples), summed over replicas and steps; the gradient step divides by
    the examples of the whole global batch, so the replicas' gradients add up
    to the gradient of the batch's mean loss.
    """

    def __init__(self, model: keras.Model, strategy: tf.distribute.Strategy) -> None:
        self.model, self.strategy = model, strategy
        self.loss = keras.losses.SparseCategoricalCrossentropy(reduction=None)
        self.optimizer = model.optimizer
        self.scales_loss = isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer)

    def _totals(
        self, labels: tf.Tensor, probabilities: tf.Tensor, loss_per_example: tf.Tensor, penalty: tf.Tensor | float
    ) -> tf.Tensor:
        count = tf.cast(tf.shape(labels)[0], tf.float32)
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(probabilities, -1), tf.cast(labels, tf.int64)), tf.float32))
        return tf.stack([tf.reduce_sum(loss_per_example) + penalty * count, correct, count])

    def _penalty(self) -> tf.Tensor | float:
        return tf.add_n([tf.cast(loss, tf.float32) for loss in self.model.losses]) if self.model.losses else 0.0

    def _train_step(self, images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        context = tf.distribute.get_replica_context()
        global_count = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.cast(tf.shape(labels)[0], tf.float32))
        with tf.GradientTape() as tape:
            probabilities = self.model(images, training=True)
            per_example = self.loss(labels, probabilities)
            penalty = self._penalty()
            loss = tf.reduce_sum(per_example) / global_count + penalty / context.num_replicas_in_sync
            if self.scales_loss:
                loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(loss, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.model.trainable_variables, strict=True))
        return self._totals(labels, probabilities, per_example, penalty)

    def _evaluate_step(self, images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        probabilities = self.model(images, training=False)
        return self._totals(labels, probabilities, self.loss(labels, probabilities), self._penalty())

    @tf.function
    def train_epoch(self, iterator: Iterator, steps: tf.Tensor) -> tf.Tensor:
        totals = tf.zeros(3)
        for _ in tf.range(steps):
            per_replica = self.strategy.run(self._train_step, args=next(iterator))
            totals += self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
        return totals

    @tf.function
    def evaluate(self, iterator: Iterator, steps: tf.Tensor) -> tf.Tensor:
        totals = tf.zeros(3)
        for _ in tf.range(steps):
            per_replica = self.strategy.run(self._evaluate_step, args=next(iterator))
            totals += self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
        return totals


def _agree_on_the_start(strategy, model, restored, early_stopping) -> int:
    """The epoch to start at; on every worker the chief's restored weights, optimiser and
    early-stopping state (the chief alone keeps backups)."""
    first_epoch = restored.epoch if restored else 0
    if not is_multi_worker(strategy):
        return first_epoch
    variables = [*model.variables, *model.optimizer.variables]
    stopping = early_stopping or types.SimpleNamespace(wait=0, best=None, best_epoch=0)
    best = np.inf if stopping.best is None else stopping.best
    state = np.asarray([first_epoch, stopping.wait, best, stopping.best_epoch], np.float64)
    *shared, shared_state = broadcast_from_chief(strategy, [*variables, state])
    for variable, value in zip(variables, shared, strict=True):
        variable.assign(value)
    first_epoch, stopping.wait, stopping.best, stopping.best_epoch = shared_state.tolist()
    stopping.wait, stopping.best_epoch = int(stopping.wait), int(stopping.best_epoch)
    return int(first_epoch)
