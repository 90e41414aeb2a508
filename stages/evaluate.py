"""Stage evaluate: the trained model on the test split -> metrics/test.json, predictions and plot data."""

import numpy as np
import pandas as pd

from starrec import paths
from starrec.atomic import write_csv, write_json
from starrec.datasets import from_arrays
from starrec.ingest import load_classes
from starrec.metrics import classification_report, one_vs_rest_curves
from starrec.model import load_model
from starrec.params import load_params
from starrec.records import read_arrays
from starrec.stage import run_stage
from starrec.training import predict_labels


def main() -> None:
    params = load_params(paths.PARAMS)
    classes = load_classes(paths.INTERIM)
    model = load_model(paths.MODEL)
    images, labels, ids = read_arrays(paths.SPLIT / "test", params.image.size)
    _, probabilities = predict_labels(model, from_arrays(images, labels))
    predicted = probabilities.argmax(axis=1)
    report = classification_report(labels, predicted, classes)
    curves = one_vs_rest_curves(labels, probabilities, classes)
    auc = {row["class"]: row["roc_auc"] for row in curves["roc_auc"]}
    for row in report["per_class"]:
        row["roc_auc"] = auc[row["class"]]
    write_json(paths.TEST, report)
    names = np.asarray(classes)
    write_csv(paths.PREDICTIONS, pd.DataFrame({
        "id": ids, "actual": names[labels], "predicted": names[predicted],
        "confidence": probabilities.max(axis=1).round(6),
    }))
    write_json(paths.PLOTS / "confusion.json",
               [{"actual": a, "predicted": p} for a, p in zip(names[labels], names[predicted])])
    write_json(paths.PLOTS / "per_class.json",
               [{"class": row["class"], "metric": metric, "value": row[key]}
                for row in report["per_class"] for metric, key in
                (("precision", "ppv"), ("recall", "tpr"), ("f1", "f1")) if row[key] is not None])
    write_json(paths.PLOTS / "roc.json", curves["roc"])
    write_json(paths.PLOTS / "precision_recall.json", curves["precision_recall"])
    print(f"evaluate: test accuracy {report['accuracy']:.4f}, macro F1 {report['f1_macro']:.4f} "
          f"on {report['n_examples']} images")


if __name__ == "__main__":
    run_stage(main)
