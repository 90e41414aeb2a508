"""SGD with momentum exactly as the lecture writes it, with a decaying momentum factor.

delta_t   = -alpha_t * dE/dtheta + epsilon_e * delta_{t-1}
theta_t+1 = theta_t + delta_t
(nesterov: theta_t+1 = theta_t - alpha_t * dE/dtheta + epsilon_e * delta_t)

alpha_t   = learning_rate * lr_decay_rate ^ floor(t / (steps_per_epoch * lr_decay_epochs))
epsilon_e = end + (start - end) * rate ^ e,  e = floor(t / steps_per_epoch)
          (constant epsilon = start when end is None)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras
from keras import ops

from starrec.params import TrainParams

if TYPE_CHECKING:  # the types only: the optimiser runs through keras.ops
    import tensorflow as tf


@keras.saving.register_keras_serializable(package="starrec")
class MomentumSGD(keras.optimizers.Optimizer):
    """Momentum SGD whose momentum factor epsilon may decay per epoch (see module docstring)."""

    def __init__(
        self,
        learning_rate=0.01,
        momentum=0.9,
        momentum_end=None,
        momentum_rate=0.9,
        steps_per_epoch=1,
        nesterov=False,
        name="momentum_sgd",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.momentum = float(momentum)
        self.momentum_end = None if momentum_end is None else float(momentum_end)
        self.momentum_rate = float(momentum_rate)
        self.steps_per_epoch = int(steps_per_epoch)
        self.nesterov = bool(nesterov)

    def build(self, variables: list) -> None:
        if self.built:
            return
        super().build(variables)
        self.deltas = self.add_optimizer_variables(variables, "delta")

    def momentum_at(self, iteration: tf.Tensor) -> tf.Tensor:
        """epsilon for the epoch that step ``iteration`` belongs to."""
        if self.momentum_end is None:
            return ops.convert_to_tensor(self.momentum, "float32")
        epoch = ops.cast(ops.floor_divide(iteration, self.steps_per_epoch), "float32")
        return self.momentum_end + (self.momentum - self.momentum_end) * ops.power(self.momentum_rate, epoch)

    def learning_rate_at(self, iteration: tf.Tensor) -> tf.Tensor:
        """alpha at step ``iteration`` (a schedule is evaluated there)."""
        schedule = self._learning_rate
        if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            return schedule(iteration)
        return ops.convert_to_tensor(schedule, "float32")

    def update_step(self, gradient: tf.Tensor, variable: tf.Variable, learning_rate: tf.Tensor) -> None:
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        epsilon = ops.cast(self.momentum_at(self.iterations), variable.dtype)
        delta = self.deltas[self._get_variable_index(variable)]
        step = ops.multiply(gradient, learning_rate)
        self.assign(delta, ops.subtract(ops.multiply(delta, epsilon), step))
        if self.nesterov:
            self.assign_add(variable, ops.subtract(ops.multiply(delta, epsilon), step))
        else:
            self.assign_add(variable, delta)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            momentum=self.momentum,
            momentum_end=self.momentum_end,
            momentum_rate=self.momentum_rate,
            steps_per_epoch=self.steps_per_epoch,
            nesterov=self.nesterov,
        )
        return config


def make_optimizer(train: TrainParams, steps_per_epoch: int) -> MomentumSGD:
    """The optimiser the params describe: staircase exponential lr decay + momentum schedule."""
    learning_rate = keras.optimizers.schedules.ExponentialDecay(
        initial_learning_rate=train.learning_rate,
        decay_steps=steps_per_epoch * train.lr_decay_epochs,
        decay_rate=train.lr_decay_rate,
        staircase=True,
    )
    return MomentumSGD(
        learning_rate=learning_rate,
        momentum=train.momentum,
        momentum_end=train.momentum_schedule.end,
        momentum_rate=train.momentum_schedule.rate,
        steps_per_epoch=steps_per_epoch,
        nesterov=train.nesterov,
    )
