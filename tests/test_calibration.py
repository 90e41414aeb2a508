"""Calibration: the expected calibration error, temperature scaling and the risk-coverage curve."""

import keras
import numpy as np
import pytest

from starrec.evaluation.calibration import (
    ece_interval,
    expected_calibration_error,
    reliability,
    risk_coverage,
    selective,
)
from starrec.evaluation.evaluate import Calibration, evaluate
from starrec.evaluation.intervals import wilson_interval
from starrec.train.calibrate import (
    fit_temperature,
    min_confidence_for,
    negative_log_likelihood,
    probabilities_at,
    temperature_of,
    with_temperature,
)
from starrec.train.network import logits_model

# Four test images: two said 0.9 (one right), two said 0.6 (both right).
SURE = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
TRUTH = np.array([0, 1, 0, 0])


def test_the_expected_calibration_error_of_a_worked_example():
    """Bins 0.9 (accuracy 0.5) and 0.6 (accuracy 1.0): ECE = 2/4 |0.5 - 0.9| + 2/4 |1.0 - 0.6| = 0.4."""
    assert expected_calibration_error(SURE, TRUTH, 15) == pytest.approx(0.4)
    assert reliability(SURE, TRUTH, 15) == [
        {"confidence": 0.6, "accuracy": 1.0, "count": 2},
        {"confidence": 0.9, "accuracy": 0.5, "count": 2},
    ]
    calibrated = np.array([[0.75, 0.25]] * 4)  # said 0.75, right 3 times of 4
    assert expected_calibration_error(calibrated, np.array([0, 0, 0, 1]), 15) == pytest.approx(0.0)
    assert expected_calibration_error(SURE, TRUTH, 1) == pytest.approx(abs(0.75 - 0.75))  # one bin: mean vs mean
    interval = ece_interval(SURE, TRUTH, 15, 1000, seed=0)
    assert interval["low"] <= 0.4 <= interval["high"]


def test_the_risk_coverage_curve_answers_the_surest_first():
    assert risk_coverage(SURE, TRUTH) == [
        {"coverage": 0.25, "risk": 0.0, "min_confidence": 0.9},
        {"coverage": 0.5, "risk": 0.5, "min_confidence": 0.9},
        {"coverage": 0.75, "risk": 0.333333, "min_confidence": 0.6},
        {"coverage": 1.0, "risk": 0.25, "min_confidence": 0.6},
    ]


def test_the_fitted_temperature_is_the_one_the_labels_were_drawn_with():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5000, 4)) * 3
    labels = np.array([rng.choice(4, p=row) for row in probabilities_at(logits, 2.0)])
    temperature = fit_temperature(logits, labels)
    assert temperature == pytest.approx(2.0, rel=0.05)
    assert negative_log_likelihood(logits, labels, temperature) < negative_log_likelihood(logits, labels)
    np.testing.assert_array_equal(probabilities_at(logits, temperature).argmax(1), logits.argmax(1))
    assert fit_temperature(np.zeros((0, 4)), np.zeros(0, np.int64)) == 1.0  # no validation images


def test_the_temperature_lives_in_the_model_and_changes_no_prediction(tiny_arrays, tiny_params):
    from helpers.data import fit_arrays

    images, labels = tiny_arrays
    model, _ = fit_arrays(tiny_params, images, labels)
    assert temperature_of(model) == 1.0
    calibrated = with_temperature(model, 2.5)
    assert temperature_of(calibrated) == pytest.approx(2.5)
    logits = np.asarray(logits_model(model)(images.astype(np.float32)), np.float64)
    probabilities = np.asarray(calibrated(images.astype(np.float32)), np.float64)
    np.testing.assert_allclose(probabilities, probabilities_at(logits, 2.5), atol=1e-6)
    np.testing.assert_array_equal(probabilities.argmax(1), np.asarray(model(images.astype(np.float32))).argmax(1))
    inputs = keras.Input((4,))
    older = keras.Model(inputs, keras.layers.Softmax()(keras.layers.Dense(2, name="logits")(inputs)))
    assert temperature_of(older) == 1.0  # model files of starrec 0.2 have no temperature layer


def test_evaluate_reports_the_calibration_error_before_and_after_and_its_plots():
    logits = np.log(SURE) * 2  # T = 2 gives back SURE
    noise = np.array([[0.5, 0.5], [0.95, 0.05]])
    result = evaluate(TRUTH, SURE, ["a", "b", "c", "d"], ["x", "y"], 200, 0, Calibration(logits, 2.0, 15, 0.6, noise))
    assert result.report["ece"] == pytest.approx(0.4)
    assert result.report["ece_uncalibrated"] == pytest.approx(
        expected_calibration_error(probabilities_at(logits), TRUTH, 15)
    )
    assert result.calibration["temperature"] == 2.0 and result.calibration["ece"]["value"] == pytest.approx(0.4)
    assert result.calibration["nll"] < result.calibration["nll_uncalibrated"]
    series = {row["series"] for row in result.plots["reliability"]}
    assert series == {"perfect calibration", "uncalibrated (T = 1)", "as served (T = 2.000)"}
    assert [row["coverage"] for row in result.plots["risk_coverage"]] == [0.25, 0.5, 0.75, 1.0]
    assert result.calibration["selective"]["coverage"]["value"] == 1.0  # every test confidence >= 0.6
    assert result.calibration["noise"] == {"images": 2, "refused": 0.5}
    assert "unknown" not in result.calibration  # no data.unknown_source


def test_evaluate_counts_the_unknown_people_it_refuses_with_wilsons_interval():
    logits, unknown = np.log(SURE) * 2, np.array([[0.5, 0.5], [0.95, 0.05], [0.55, 0.45], [0.7, 0.3]])
    calibration = Calibration(logits, 2.0, 15, 0.6, unknown=unknown)
    result = evaluate(TRUTH, SURE, ["a", "b", "c", "d"], ["x", "y"], 200, 0, calibration)
    assert result.calibration["unknown"] == {"images": 4, "refused": {"value": 0.5, "ci95": wilson_interval(2, 4)}}


def test_min_confidence_is_the_least_threshold_whose_error_meets_the_target():
    """Surest first: 0.9 right, 0.8 wrong, 0.7 right, 0.6 wrong: errors 0/1, 1/2, 1/3, 2/4."""
    probabilities = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4]])
    labels = np.array([0, 1, 0, 1])
    assert min_confidence_for(probabilities, labels, 0.0) == 0.9
    assert min_confidence_for(probabilities, labels, 0.34) == 0.7  # 1/3: the largest coverage that meets it
    assert min_confidence_for(probabilities, labels, 0.5) == 0.6  # everything answered
    tied = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4]])  # one threshold answers both 0.9s
    assert min_confidence_for(tied, np.array([0, 1, 0]), 0.0) > 0.9  # so none can be: answer nothing
    assert min_confidence_for(np.zeros((0, 2)), np.zeros(0, np.int64), 0.05) == 0.0


def test_coverage_and_error_at_the_threshold_with_wilson_intervals():
    result = selective(SURE, TRUTH, 0.9)
    assert result["answered"] == 2 and result["coverage"]["value"] == 0.5 and result["risk"]["value"] == 0.5
    assert result["coverage"]["ci95"]["low"] < 0.5 < result["coverage"]["ci95"]["high"]
    nothing = selective(SURE, TRUTH, 0.95)
    assert nothing["answered"] == 0 and nothing["risk"] == {"value": None, "ci95": None}


def test_noise_images_are_predicted_in_batches_as_at_once(tiny_arrays, tiny_params):
    """The evaluate stage's noise images go through the model 64 at a time: a whole array at once would hold
    every layer's activations of every image (200 images at 512 px)."""
    from helpers.data import fit_arrays
    from starrec.evaluation.calibration import noise_images
    from starrec.train.inference import probabilities_of

    model, _ = fit_arrays(tiny_params, *tiny_arrays)
    noise = noise_images(23, 16, seed=0)
    np.testing.assert_allclose(probabilities_of(model, noise, batch_size=5), np.asarray(model(noise)), atol=1e-6)
    assert probabilities_of(model, noise[:0]).shape == (0, 3)
