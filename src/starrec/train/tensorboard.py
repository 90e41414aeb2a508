"""TensorBoard logs while training: scalars and weight histograms (Keras), gradient
histograms and a few augmented input images (ours; Keras 3 no longer writes them)."""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

SAMPLE_IMAGES = 16


class InputAndGradientSummaries(keras.callbacks.Callback):
    """Writes the sample images once and the gradient histograms of a fixed batch every epoch."""

    def __init__(self, log_dir: Path, images: tf.Tensor, labels: tf.Tensor) -> None:
        super().__init__()
        self.writer = tf.summary.create_file_writer(str(log_dir / "gradients"))
        self.images, self.labels = images, labels

    def on_train_begin(self, logs: dict | None = None) -> None:
        with self.writer.as_default():
            tf.summary.image("augmented_inputs", self.images / 255.0, max_outputs=SAMPLE_IMAGES, step=0)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        with tf.GradientTape() as tape:
            loss = self.model.compute_loss(x=self.images, y=self.labels, y_pred=self.model(self.images, training=False))
        gradients = tape.gradient(loss, self.model.trainable_variables)
        with self.writer.as_default():
            for variable, gradient in zip(self.model.trainable_variables, gradients, strict=True):
                tf.summary.histogram(f"gradients/{variable.path}", gradient, step=epoch)
        self.writer.flush()


def tensorboard_callbacks(log_dir: Path, train_examples: tf.data.Dataset) -> list[keras.callbacks.Callback]:
    """Keras' TensorBoard callback plus :class:`InputAndGradientSummaries` on the first training images."""
    sample = next(iter(train_examples.batch(SAMPLE_IMAGES)))
    images = tf.cast(sample["image"], tf.float32)
    return [
        keras.callbacks.TensorBoard(log_dir=str(log_dir), histogram_freq=1),
        InputAndGradientSummaries(log_dir, images, sample["label"]),
    ]
