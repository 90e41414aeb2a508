"""The lecture's worked examples, exactly; undefined ratios are null."""

import json

import numpy as np
import pytest

from helpers.data import labels_from_confusion
from starrec.evaluation.metrics import (
    RATES,
    binary_scores,
    evaluation_report,
    f1_of_averages,
    macro_average,
    one_vs_rest_curves,
    one_vs_rest_table,
)

DOG_CAT_MOUSE = [[1, 0, 1], [0, 3, 2], [2, 1, 2]]


def report_of(confusion, class_names):
    """test.json for the predictions a confusion matrix describes (probability 1 on the predicted class)."""
    truth, predicted = labels_from_confusion(confusion)
    return evaluation_report(truth, np.eye(len(class_names))[predicted], class_names)


def test_spam_classifier_that_always_says_no_spam():
    scores = binary_scores(*labels_from_confusion([[110, 0], [10, 0]]))
    assert scores["accuracy"] == pytest.approx(110 / 120)
    assert round(scores["accuracy"] * 100, 2) == 91.67
    assert scores["precision"] == pytest.approx(110 / 120)
    assert scores["recall"] == 1.0
    assert round(scores["f1"], 3) == 0.957


def test_three_three_five_sixteen():
    scores = binary_scores(*labels_from_confusion([[3, 3], [5, 16]]))
    assert scores["accuracy"] == pytest.approx(19 / 27)
    assert round(scores["accuracy"], 3) == 0.704
    assert scores["precision"] == 0.375
    assert scores["recall"] == 0.5
    assert round(scores["f1"], 3) == 0.429


def test_dog_cat_mouse():
    report = report_of(DOG_CAT_MOUSE, ["dog", "cat", "mouse"])
    assert report["n_examples"] == 12
    assert report["accuracy"] == 0.5
    precision = [row["precision"] for row in report["per_class"][:3]]
    recall = [row["recall"] for row in report["per_class"][:3]]
    assert precision == pytest.approx([1 / 3, 0.75, 0.4])
    assert recall == pytest.approx([0.5, 0.6, 0.4])
    assert report["precision_macro"] == pytest.approx((1 / 3 + 0.75 + 0.4) / 3)
    assert round(report["precision_macro"], 3) == 0.494
    assert report["recall_macro"] == pytest.approx(0.5)
    assert round(report["f1_of_macro_averages"], 3) == 0.497


def test_one_vs_rest_table_by_hand_for_dog():
    dog = one_vs_rest_table(*labels_from_confusion(DOG_CAT_MOUSE), ["dog", "cat", "mouse"])[0]
    assert (dog["tp"], dog["fn"], dog["fp"], dog["tn"]) == (1, 1, 2, 8)
    assert dog["prevalence"] == pytest.approx(2 / 12)
    assert dog["fnr"] == 0.5 and dog["fpr"] == pytest.approx(0.2) and dog["specificity"] == pytest.approx(0.8)
    assert (
        dog["fdr"] == pytest.approx(2 / 3) and dog["npv"] == pytest.approx(8 / 9) and dog["for"] == pytest.approx(1 / 9)
    )
    assert dog["positive_likelihood_ratio"] == pytest.approx(0.5 / 0.2)
    assert dog["negative_likelihood_ratio"] == pytest.approx(0.5 / 0.8)
    assert dog["diagnostic_odds_ratio"] == pytest.approx((0.5 / 0.2) / (0.5 / 0.8))
    assert dog["ovr_accuracy"] == pytest.approx(9 / 12)
    assert dog["f1"] == pytest.approx(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5))


def test_two_classes_report_the_first_as_positive():
    report = report_of([[3, 3], [5, 16]], ["no spam", "spam"])
    assert report["binary"] == {
        "positive": "no spam",
        "precision": 0.375,
        "recall": 0.5,
        "f1": pytest.approx(3 / 7),
    }
    assert report["accuracy"] == pytest.approx(19 / 27)
    assert "binary" not in report_of(DOG_CAT_MOUSE, ["d", "c", "m"])


def test_division_by_zero_is_null_and_json_safe():
    report = report_of([[110, 0], [10, 0]], ["no spam", "spam"])
    spam = report["per_class"][1]
    assert spam["precision"] is None  # never predicted: TP + FP = 0
    assert spam["positive_likelihood_ratio"] is None  # FPR = 0
    assert spam["diagnostic_odds_ratio"] is None
    json.dumps(report, allow_nan=False)


def test_macro_average_skips_undefined_values():
    rows = [dict.fromkeys(RATES) | {"recall": 0.5, "f1": 0.2}, dict.fromkeys(RATES) | {"f1": 0.4}]
    averaged = macro_average(rows)
    assert (
        averaged["recall"] == 0.5 and averaged["f1"] == pytest.approx(0.3) and averaged["diagnostic_odds_ratio"] is None
    )
    assert f1_of_averages(0.0, 0.0) is None


def test_curves_one_vs_rest_end_at_the_corner():
    truth = np.array([0, 0, 1, 1, 2, 2])
    probabilities = np.eye(3)[truth] * 0.8 + 0.1
    curves = one_vs_rest_curves(truth, probabilities, ["a", "b", "c"])
    last_of_a = [row for row in curves["roc"] if row["class"] == "a"][-1]
    assert (last_of_a["fpr"], last_of_a["tpr"]) == (1.0, 1.0)


def test_one_name_one_meaning_across_the_report():
    """The macro avg row repeats the headline numbers; an undefined precision counts 0 in both."""
    truth, predicted = labels_from_confusion([[5, 0, 0], [0, 5, 0], [3, 1, 0]])  # class 2 never predicted
    probabilities = np.eye(3)[predicted] * 0.7 + 0.1
    report = evaluation_report(truth, probabilities, ["a", "b", "c"])
    macro = report["per_class"][-1]
    assert macro["class"] == "macro avg" and macro["support"] == 14
    assert report["per_class"][2]["precision"] is None
    assert report["precision_macro"] == pytest.approx((5 / 8 + 5 / 6 + 0) / 3) == macro["precision"]
    assert (macro["recall"], macro["f1"]) == (report["recall_macro"], report["f1_macro"])
    assert (
        report["roc_auc_ovr"]
        == macro["roc_auc"]
        == pytest.approx(np.mean([r["roc_auc"] for r in report["per_class"][:3]]))
    )
    assert macro["specificity"] == pytest.approx(np.mean([r["specificity"] for r in report["per_class"][:3]]))
