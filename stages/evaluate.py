"""Stage evaluate: the trained model on the test split -> metrics/test.json, predictions and plot data."""

from starrec import paths
from starrec.atomic import write_csv, write_json
from starrec.datasets import from_arrays
from starrec.evaluation import evaluate
from starrec.manifest import load_classes
from starrec.model import load_model
from starrec.params import load_params
from starrec.records import read_arrays
from starrec.stage import run_stage
from starrec.training import predict_labels


def main() -> None:
    params = load_params(paths.PARAMS)
    images, labels, ids = read_arrays(paths.SPLIT / "test", params.image.size)
    _, probabilities = predict_labels(load_model(paths.MODEL), from_arrays(images, labels))
    result = evaluate(labels, probabilities, ids, load_classes(paths.INTERIM))
    write_json(paths.TEST, result.report)
    write_csv(paths.PREDICTIONS, result.predictions)
    for name, rows in result.plots.items():
        write_json(paths.PLOTS / f"{name}.json", rows)
    print(
        f"evaluate: test accuracy {result.report['accuracy']:.4f}, macro F1 {result.report['f1_macro']:.4f} "
        f"on {result.report['n_examples']} images"
    )


if __name__ == "__main__":
    run_stage(main)
