"""Classification metrics as the lecture defines them. Arrays in, numbers out, no I/O.

Convention (the lecture's): rows of a confusion matrix are the true class,
columns the prediction; in the binary case the first class is "positive".
One-vs-rest for class c with n examples (the keys of a per-class row):

    tp = C[c, c]   fn = sum(C[c, :]) - tp   fp = sum(C[:, c]) - tp   tn = n - tp - fn - fp
    prevalence = (tp + fn) / n                   ovr_accuracy = (tp + tn) / n
    recall (TPR) = tp / (tp + fn)                fnr = fn / (tp + fn)
    fpr = fp / (fp + tn)                         specificity (TNR) = tn / (fp + tn)
    precision (PPV) = tp / (tp + fp)             fdr = fp / (tp + fp)
    npv = tn / (tn + fn)                         for = fn / (tn + fn)
    positive_likelihood_ratio = recall / fpr     negative_likelihood_ratio = fnr / specificity
    diagnostic_odds_ratio = LR+ / LR-            f1 = 2 precision recall / (precision + recall)

A ratio whose denominator is zero is ``None`` (null in JSON), never inf/NaN.
Names follow scikit-learn where it has one (``precision_macro`` is its
``precision_score(average="macro")``, ``roc_auc_ovr`` its ``roc_auc_score(multi_class="ovr")``).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    class_likelihood_ratios,
    confusion_matrix,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)

RATES = (
    "prevalence",
    "recall",
    "fnr",
    "fpr",
    "specificity",
    "precision",
    "for",
    "fdr",
    "npv",
    "positive_likelihood_ratio",
    "negative_likelihood_ratio",
    "diagnostic_odds_ratio",
    "ovr_accuracy",
    "f1",
)
MACRO_ROW = "macro avg"
"""The last row of the per-class table, named as in scikit-learn's classification_report."""


def _number(value) -> float | None:
    """A plain float, or None for NaN/inf (undefined)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _ratio(numerator, denominator) -> float | None:
    return _number(numerator / denominator) if denominator else None


def binary_scores(y_true, y_pred, positive=0) -> dict[str, float | None]:
    """Accuracy, precision, recall and F1 of the ``positive`` class (the lecture's spam slides)."""
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=[positive], average=None, zero_division=np.nan
    )
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": _number(precision[0]),
        "recall": _number(recall[0]),
        "f1": _number(f1[0]),
    }


def _likelihood_ratios(is_class_true: np.ndarray, is_class_pred: np.ndarray) -> tuple[float | None, float | None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lr_plus, lr_minus = class_likelihood_ratios(
            is_class_true.astype(int), is_class_pred.astype(int), labels=[0, 1], replace_undefined_by=np.nan
        )
    return _number(lr_plus), _number(lr_minus)


def one_vs_rest_table(y_true, y_pred, class_names: list[str]) -> list[dict]:
    """The lecture's full table of counts and rates for every class against the rest."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    labels = list(range(len(class_names)))
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        precision, recall, f1, support = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=None, zero_division=np.nan
        )
    n = int(matrix.sum())
    rows = []
    for c, name in enumerate(class_names):
        tp = int(matrix[c, c])
        fn = int(matrix[c, :].sum()) - tp
        fp = int(matrix[:, c].sum()) - tp
        tn = n - tp - fn - fp
        lr_plus, lr_minus = _likelihood_ratios(y_true == c, y_pred == c)
        rows.append(
            {
                "class": name,
                "support": int(support[c]),
                "tp": tp,
                "fp": fp,
                "fn": fn,
                "tn": tn,
                "prevalence": _ratio(tp + fn, n),
                "recall": _number(recall[c]),
                "fnr": _ratio(fn, tp + fn),
                "fpr": _ratio(fp, fp + tn),
                "specificity": _ratio(tn, fp + tn),
                "precision": _number(precision[c]),
                "for": _ratio(fn, fn + tn),
                "fdr": _ratio(fp, tp + fp),
                "npv": _ratio(tn, tn + fn),
                "positive_likelihood_ratio": lr_plus,
                "negative_likelihood_ratio": lr_minus,
                "diagnostic_odds_ratio": _ratio(lr_plus, lr_minus)
                if lr_plus is not None and lr_minus is not None
                else None,
                "ovr_accuracy": _ratio(tp + tn, n),
                "f1": _number(f1[c]),
            }
        )
    return rows


def macro_average(table: list[dict]) -> dict[str, float | None]:
    """Mean of each rate over the classes where it is defined (None where it is nowhere)."""
    averaged = {}
    for rate in RATES:
        values = [row[rate] for row in table if row[rate] is not None]
        averaged[rate] = float(np.mean(values)) if values else None
    return averaged


def f1_of_averages(precision: float, recall: float) -> float | None:
    """The lecture's "F1 score of averaged precision and recall": 2PR / (P + R)."""
    return _ratio(2 * precision * recall, precision + recall)


def evaluation_report(y_true, probabilities, class_names: list[str]) -> dict:
    """metrics/test.json from true labels and class probabilities (prediction: the argmax).

    Headline numbers are scikit-learn's (``precision_macro``, ``recall_macro``,
    ``f1_macro`` count an undefined class value as 0; ``roc_auc_ovr`` is null
    unless every class occurs). ``per_class`` is the one-vs-rest table with
    each class's ROC AUC, then a ``macro avg`` row: precision, recall, f1
    and roc_auc as the headline, every other rate the mean over the classes
    where it is defined. With two classes, ``binary`` scores the first class
    as positive (the lecture's way).
    """
    y_true, probabilities = np.asarray(y_true), np.asarray(probabilities)
    y_pred = probabilities.argmax(axis=1)
    labels = list(range(len(class_names)))
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average="macro", zero_division=0.0
    )
    table = one_vs_rest_table(y_true, y_pred, class_names)
    areas = one_vs_rest_roc_auc(y_true, probabilities, len(class_names))
    defined = [area for area in areas if area is not None]
    roc_auc_ovr = float(np.mean(defined)) if len(defined) == len(areas) else None
    headline = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision_macro": float(precision),
        "recall_macro": float(recall),
        "f1_macro": float(f1),
        "f1_of_macro_averages": f1_of_averages(float(precision), float(recall)),
        "roc_auc_ovr": roc_auc_ovr,
    }
    for row, area in zip(table, areas, strict=True):
        row["roc_auc"] = area
    macro = {
        "class": MACRO_ROW,
        "support": int(len(y_true)),
        **macro_average(table),
        "precision": headline["precision_macro"],
        "recall": headline["recall_macro"],
        "f1": headline["f1_macro"],
        "roc_auc": roc_auc_ovr,
    }
    binary = {}
    if len(class_names) == 2:
        scores = binary_scores(y_true, y_pred)
        binary = {"binary": {"positive": class_names[0], **{k: scores[k] for k in ("precision", "recall", "f1")}}}
    return {"n_examples": int(len(y_true)), **headline, **binary, "per_class": [*table, macro]}


def one_vs_rest_roc_auc(y_true, probabilities, num_classes: int) -> list[float | None]:
    """Each class's ROC AUC against the rest (None when the class is absent or alone)."""
    areas = []
    for c in range(num_classes):
        is_class = (np.asarray(y_true) == c).astype(int)
        areas.append(
            float(roc_auc_score(is_class, probabilities[:, c])) if 0 < is_class.sum() < len(is_class) else None
        )
    return areas


def one_vs_rest_curves(y_true, probabilities, class_names: list[str]) -> dict[str, list[dict]]:
    """ROC and precision-recall points per class (one-vs-rest); absent classes have none."""
    y_true = np.asarray(y_true)
    roc, pr = [], []
    for c, name in enumerate(class_names):
        is_class = (y_true == c).astype(int)
        if is_class.min(initial=1) == is_class.max(initial=0):
            continue
        fpr, tpr, _ = roc_curve(is_class, probabilities[:, c])
        precision, recall, _ = precision_recall_curve(is_class, probabilities[:, c])
        roc += [{"class": name, "fpr": float(x), "tpr": float(y)} for x, y in zip(fpr, tpr, strict=True)]
        pr += [
            {"class": name, "recall": float(x), "precision": float(y)} for x, y in zip(recall, precision, strict=True)
        ]
    return {"roc": roc, "precision_recall": pr}
