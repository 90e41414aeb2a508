"""The optimiser follows the lecture's momentum formula step by step."""

import keras
import numpy as np
import pytest

from starrec.params import parse_params
from starrec.train.optim import MomentumSGD, make_optimizer


def run_steps(optimizer, gradients, start=1.0):
    theta = keras.Variable(np.array([start], dtype="float32"))
    seen = []
    for gradient in gradients:
        optimizer.apply_gradients([(np.array([gradient], dtype="float32"), theta)])
        seen.append(float(theta.numpy()[0]))
    return seen


def test_two_steps_match_the_formula_by_hand():
    alpha, epsilon = 0.1, 0.5
    thetas = run_steps(MomentumSGD(learning_rate=alpha, momentum=epsilon), [2.0, 4.0])
    delta_1 = -alpha * 2.0  # delta_0 = 0
    delta_2 = -alpha * 4.0 + epsilon * delta_1
    assert thetas[0] == pytest.approx(1.0 + delta_1)
    assert thetas[1] == pytest.approx(1.0 + delta_1 + delta_2)


def test_nesterov_step_by_hand():
    alpha, epsilon = 0.1, 0.5
    thetas = run_steps(MomentumSGD(learning_rate=alpha, momentum=epsilon, nesterov=True), [2.0, 4.0])
    delta_1 = -alpha * 2.0
    theta_1 = 1.0 - alpha * 2.0 + epsilon * delta_1
    delta_2 = -alpha * 4.0 + epsilon * delta_1
    assert thetas == pytest.approx([theta_1, theta_1 - alpha * 4.0 + epsilon * delta_2])


def test_momentum_decays_per_epoch_towards_its_end_value():
    optimizer = MomentumSGD(momentum=0.9, momentum_end=0.5, momentum_rate=0.5, steps_per_epoch=10)
    values = [float(optimizer.momentum_at(step)) for step in (0, 9, 10, 25)]
    assert values == pytest.approx([0.9, 0.9, 0.5 + 0.4 * 0.5, 0.5 + 0.4 * 0.25])
    assert float(MomentumSGD(momentum=0.7).momentum_at(1000)) == pytest.approx(0.7)


def test_learning_rate_decays_as_a_staircase():
    params = parse_params({"train": {"learning_rate": 0.1, "lr_decay_rate": 0.5, "lr_decay_epochs": 2}})
    optimizer = make_optimizer(params.train, steps_per_epoch=3)
    assert [float(optimizer.learning_rate_at(step)) for step in (0, 5, 6, 12)] == pytest.approx([0.1, 0.1, 0.05, 0.025])


def test_config_round_trip():
    optimizer = MomentumSGD(learning_rate=0.3, momentum=0.8, momentum_end=0.1, steps_per_epoch=4, nesterov=True)
    copy = MomentumSGD.from_config(optimizer.get_config())
    assert (copy.momentum, copy.momentum_end, copy.steps_per_epoch, copy.nesterov) == (0.8, 0.1, 4, True)
