"""Training speed: the project's path against plain Keras and a bare tf.function step.

For one network, image size and precision, the same model (``build_model``),
optimiser and batch size are trained three ways on the same images:

- ``project``: ``starrec.train.training.fit`` on TFRecords, as the train stage runs it;
- ``keras_fit``: plain ``model.fit`` on in-memory float32 arrays;
- ``bare_step``: a ``tf.function`` train step over pre-made batches.

Each reports images/s as the median over the epochs after the first (tracing).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from starrec.data.datasets import steps_per_epoch
from starrec.data.download import synthetic_image
from starrec.data.records import read_records, write_shards
from starrec.params import Params
from starrec.train.preprocess import normalization_stats
from starrec.train.training import compiled_model, fit, set_determinism


class EpochTimes(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)


def synthetic_set(n_images: int, size: int, num_classes: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """``n_images`` generated RGB images of ``size`` px and their labels (seed 0, classes in turn)."""
    rng = np.random.default_rng(0)
    labels = np.arange(n_images, dtype=np.int64) % num_classes
    return np.stack([synthetic_image(int(c), num_classes, rng, size=size) for c in labels]), labels


def _rate(n_images: int, seconds: list[float]) -> float:
    return n_images / statistics.median(seconds[1:])


def _model(params: Params, images: np.ndarray, num_classes: int) -> keras.Model:
    set_determinism(params.seed)
    stats = normalization_stats([images], params.augment.grayscale)
    steps = steps_per_epoch(params.train, len(images))
    return compiled_model(images.shape[1], num_classes, stats, params.model, params.train, steps)


def project_rate(params: Params, images: np.ndarray, labels: np.ndarray, num_classes: int, scratch: Path) -> float:
    records = scratch / f"speed-{images.shape[1]}-{len(images)}"
    if not records.exists():
        write_shards(zip(images, labels, (str(i) for i in range(len(labels)))), records, 1000)
    times = EpochTimes()
    stats = normalization_stats([images], params.augment.grayscale)
    fit(
        read_records(records, images.shape[1]), len(labels), num_classes, stats,
        params.model, params.train, params.seed, callbacks=[times], verbose=0,
    )  # fmt: skip
    return _rate(len(labels), times.seconds)


def keras_fit_rate(params: Params, images: np.ndarray, labels: np.ndarray, num_classes: int) -> float:
    model, times = _model(params, images, num_classes), EpochTimes()
    model.fit(
        images.astype(np.float32), labels, batch_size=params.train.batch_size, epochs=params.train.epochs,
        callbacks=[times], verbose=0,
    )  # fmt: skip
    return _rate(len(labels), times.seconds)


def bare_step_rate(params: Params, images: np.ndarray, labels: np.ndarray, num_classes: int) -> float:
    model = _model(params, images, num_classes)
    loss_function, optimizer = model.loss, model.optimizer
    batch = params.train.batch_size
    batches = [
        (tf.constant(images[i : i + batch], tf.float32), tf.constant(labels[i : i + batch]))
        for i in range(0, len(labels), batch)
    ]

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_function(y, model(x, training=True)) + sum(model.losses)
            scaled = optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    seconds = []
    for _ in range(params.train.epochs):
        started = time.perf_counter()
        for x, y in batches:
            loss = step(x, y)
        float(loss)  # wait for the last step
        seconds.append(time.perf_counter() - started)
    return _rate(len(labels), seconds)


def measure(params: Params, images: np.ndarray, labels: np.ndarray, num_classes: int, scratch: Path) -> dict:
    """images/s of the three paths and the project's ratio to each."""
    rates = {
        "project": project_rate(params, images, labels, num_classes, scratch),
        "keras_fit": keras_fit_rate(params, images, labels, num_classes),
        "bare_step": bare_step_rate(params, images, labels, num_classes),
    }
    rates = {name: round(value, 2) for name, value in rates.items()}
    return {
        "images_per_s": rates,
        "project_vs_keras_fit": round(rates["project"] / rates["keras_fit"], 3),
        "project_vs_bare_step": round(rates["project"] / rates["bare_step"], 3),
    }
