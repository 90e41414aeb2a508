"""What a user would write instead of the train stage: a from-scratch Keras script, no project code.

    python bench/plain_keras.py PHOTO_FOLDER --size 140 --train 720 --val 120 --epochs 4 [--precision float32]
        [--filters 64 64 --kernel 5 --dense 384 192 --batch 16 --learning-rate 0.002] [--bare-step]

It loads the class folders with ``keras.utils.image_dataset_from_directory`` in
grayscale, keeps the images in memory, and trains the lecture's network
(conv + max-pool blocks, dense layers with dropout, softmax) with SGD and
momentum through ``model.fit`` with validation each epoch, or (``--bare-step``)
through a bare ``tf.function`` step with no validation. It prints one JSON
line: the seconds of each epoch, measured from the end of one epoch to the end
of the next (the first one from the start of training).
"""

from __future__ import annotations

import argparse
import json
import time

import keras
import numpy as np
import tensorflow as tf


def load(folder: str, size: int, n_train: int, n_val: int) -> tuple[np.ndarray, ...]:
    """Grayscale images (0-255 float32) and labels: the first ``n_train`` for training, the next ``n_val``."""
    dataset = keras.utils.image_dataset_from_directory(
        folder, image_size=(size, size), color_mode="grayscale", batch_size=None, shuffle=True, seed=0
    )
    images, labels = map(np.stack, zip(*dataset.as_numpy_iterator(), strict=True))
    if len(images) < n_train + n_val:
        raise SystemExit(f"{folder} has {len(images)} images, fewer than --train + --val")
    return images[:n_train], labels[:n_train], images[n_train : n_train + n_val], labels[n_train : n_train + n_val]


def network(size: int, classes: int, args: argparse.Namespace, mean: float, std: float) -> keras.Model:
    keras.mixed_precision.set_global_policy(args.precision)
    layers: list[keras.layers.Layer] = [keras.Input((size, size, 1)), keras.layers.Rescaling(1 / std, -mean / std)]
    for filters in args.filters:
        convolution = keras.layers.Conv2D(filters, args.kernel, padding="same", activation="relu")
        layers += [convolution, keras.layers.MaxPooling2D()]
    layers.append(keras.layers.Flatten())
    for units in args.dense:
        layers += [keras.layers.Dense(units, activation="relu"), keras.layers.Dropout(0.3)]
    layers.append(keras.layers.Dense(classes, activation="softmax", dtype="float32"))
    model = keras.Sequential(layers)
    model.compile(
        optimizer=keras.optimizers.SGD(args.learning_rate, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


class EpochEnds(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.ends = [time.perf_counter()]

    def on_epoch_end(self, epoch, logs=None):
        self.ends.append(time.perf_counter())


def fit_seconds(model: keras.Model, x, y, x_val, y_val, args) -> list[float]:
    ends = EpochEnds()
    model.fit(
        x, y, batch_size=args.batch, epochs=args.epochs, validation_data=(x_val, y_val), callbacks=[ends], verbose=0
    )
    return list(np.diff(ends.ends))


def bare_step_seconds(model: keras.Model, x, y, args) -> list[float]:
    starts = range(0, len(x), args.batch)
    batches = [(tf.constant(x[i : i + args.batch]), tf.constant(y[i : i + args.batch])) for i in starts]
    loss_function, optimizer = keras.losses.SparseCategoricalCrossentropy(), model.optimizer

    @tf.function
    def step(images, labels):
        with tf.GradientTape() as tape:
            loss = loss_function(labels, model(images, training=True))
            scaled = optimizer.scale_loss(loss)
        optimizer.apply_gradients(
            zip(tape.gradient(scaled, model.trainable_variables), model.trainable_variables, strict=True)
        )
        return loss

    ends = [time.perf_counter()]
    for _ in range(args.epochs):
        for images, labels in batches:
            loss = step(images, labels)
        float(loss)  # wait for the last step
        ends.append(time.perf_counter())
    return list(np.diff(ends))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder")
    parser.add_argument("--size", type=int, default=140)
    parser.add_argument("--train", type=int, default=720)
    parser.add_argument("--val", type=int, default=120)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--filters", type=int, nargs="+", default=[64, 64])
    parser.add_argument("--kernel", type=int, default=5)
    parser.add_argument("--dense", type=int, nargs="+", default=[384, 192])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=0.002)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--bare-step", action="store_true")
    args = parser.parse_args()
    x, y, x_val, y_val = load(args.folder, args.size, args.train, args.val)
    keras.utils.set_random_seed(args.seed)
    model = network(args.size, int(max(y.max(), y_val.max())) + 1, args, float(x.mean()), float(x.std()) or 1.0)
    seconds = bare_step_seconds(model, x, y, args) if args.bare_step else fit_seconds(model, x, y, x_val, y_val, args)
    print(json.dumps({"images": len(x), "epoch_seconds": [round(s, 3) for s in seconds]}))


if __name__ == "__main__":
    main()
