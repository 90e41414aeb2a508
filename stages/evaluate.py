"""Stage evaluate: the trained model on the test split -> metrics/test.json, metrics/per_class.json,
predictions and plot data."""

from starrec import paths
from starrec.atomic import write_csv, write_json
from starrec.data.manifest import load_classes
from starrec.data.records import read_labels_and_ids, read_records
from starrec.evaluation.evaluate import evaluate
from starrec.evaluation.inference import labels_and_probabilities
from starrec.params import load_params
from starrec.stage import run_stage
from starrec.train.model_file import load_model


def main() -> None:
    params = load_params(paths.PARAMS)
    test = paths.TEST_SPLIT
    labels, probabilities = labels_and_probabilities(load_model(paths.MODEL), read_records(test, params.image.size))
    ids, classes = read_labels_and_ids(test)[1], load_classes(paths.INTERIM)
    result = evaluate(labels, probabilities, ids, classes, params.evaluate.bootstrap_resamples, params.seed)
    write_json(paths.TEST, result.report)
    write_json(paths.PER_CLASS, result.per_class)
    write_csv(paths.PREDICTIONS, result.predictions)
    for name, rows in result.plots.items():
        write_json(paths.PLOTS / f"{name}.json", rows)
    report = result.report
    print(
        f"evaluate: test accuracy {report['accuracy']:.4f}, macro F1 {report['f1_macro']:.4f} on {len(labels)} images"
    )


if __name__ == "__main__":
    run_stage(main)
