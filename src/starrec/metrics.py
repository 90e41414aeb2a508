"""Classification metrics as the lecture defines them. Arrays in, numbers out, no I/O.

Convention (the lecture's): rows of a confusion matrix are the true class,
columns the prediction; in the binary case the first class is "positive".
One-vs-rest for class c with n examples:

    TP = C[c, c]   FN = sum(C[c, :]) - TP   FP = sum(C[:, c]) - TP   TN = n - TP - FN - FP
    prevalence = (TP + FN) / n        accuracy = (TP + TN) / n
    TPR (recall) = TP / (TP + FN)     FNR = FN / (TP + FN)
    FPR = FP / (FP + TN)              TNR (specificity) = TN / (FP + TN)
    PPV (precision) = TP / (TP + FP)  FDR = FP / (TP + FP)
    NPV = TN / (TN + FN)              FOR = FN / (TN + FN)
    LR+ = TPR / FPR   LR- = FNR / TNR   DOR = LR+ / LR-
    F1 = 2 * PPV * TPR / (PPV + TPR)

A ratio whose denominator is zero is ``None`` (null in JSON), never inf/NaN.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    auc,
    class_likelihood_ratios,
    confusion_matrix,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_curve,
)

RATES = (
    "prevalence", "tpr", "fnr", "fpr", "tnr", "ppv", "for", "fdr", "npv",
    "lr_plus", "lr_minus", "dor", "accuracy", "f1",
)


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
        rows.append({
            "class": name,
            "support": int(support[c]),
            "tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "prevalence": _ratio(tp + fn, n),
            "tpr": _number(recall[c]),
            "fnr": _ratio(fn, tp + fn),
            "fpr": _ratio(fp, fp + tn),
            "tnr": _ratio(tn, fp + tn),
            "ppv": _number(precision[c]),
            "for": _ratio(fn, fn + tn),
            "fdr": _ratio(fp, tp + fp),
            "npv": _ratio(tn, tn + fn),
            "lr_plus": lr_plus,
            "lr_minus": lr_minus,
            "dor": _ratio(lr_plus, lr_minus) if lr_plus is not None and lr_minus is not None else None,
            "accuracy": _ratio(tp + tn, n),
            "f1": _number(f1[c]),
        })
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


def classification_report(y_true, y_pred, class_names: list[str]) -> dict:
    """Headline numbers, macro rates and the per-class table, ready for JSON.

    ``precision_macro``, ``recall_macro`` and ``f1_macro`` are scikit-learn's
    macro averages (an undefined per-class value counts as 0 there);
    ``macro`` averages only the defined values of each rate. With two
    classes, ``binary`` scores the first class as positive (the lecture's way).
    """
    labels = list(range(len(class_names)))
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average="macro", zero_division=0.0
    )
    table = one_vs_rest_table(y_true, y_pred, class_names)
    binary = {"binary": {"positive": class_names[0], **binary_scores(y_true, y_pred)}} if len(class_names) == 2 else {}
    return {
        "n_examples": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision_macro": float(precision),
        "recall_macro": float(recall),
        "f1_macro": float(f1),
        "f1_of_macro_averages": f1_of_averages(float(precision), float(recall)),
        "macro": macro_average(table),
        **binary,
        "per_class": table,
    }


def one_vs_rest_curves(y_true, probabilities, class_names: list[str]) -> dict[str, list[dict]]:
    """ROC and precision-recall points per class (one-vs-rest), plus each class's ROC AUC."""
    y_true = np.asarray(y_true)
    roc, pr, areas = [], [], []
    for c, name in enumerate(class_names):
        is_class = (y_true == c).astype(int)
        if is_class.min(initial=1) == is_class.max(initial=0):
            areas.append({"class": name, "roc_auc": None})
            continue
        fpr, tpr, _ = roc_curve(is_class, probabilities[:, c])
        precision, recall, _ = precision_recall_curve(is_class, probabilities[:, c])
        roc += [{"class": name, "fpr": float(x), "tpr": float(y)} for x, y in zip(fpr, tpr)]
        pr += [{"class": name, "recall": float(x), "precision": float(y)} for x, y in zip(recall, precision)]
        areas.append({"class": name, "roc_auc": float(auc(fpr, tpr))})
    return {"roc": roc, "precision_recall": pr, "roc_auc": areas}
