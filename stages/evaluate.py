"""Stage evaluate: the trained model on the test split -> metrics/test.json, metrics/per_class.json,
metrics/calibration.json, predictions and plot data."""

from starrec import artifacts
from starrec.atomic import write_csv, write_json
from starrec.data.manifest import load_classes
from starrec.data.photos import prepare_folder
from starrec.data.records import read_labels_and_ids, read_records
from starrec.evaluation.calibration import NOISE_IMAGES, noise_images
from starrec.evaluation.evaluate import Calibration, evaluate
from starrec.params import load_params
from starrec.stage import run_stage
from starrec.train.calibrate import temperature_of
from starrec.train.inference import labels_and_outputs, probabilities_of
from starrec.train.model_file import load_model, load_model_info
from starrec.train.network import LOGITS


def main() -> None:
    params = load_params(artifacts.PARAMS)
    test, model = read_records(artifacts.TEST_SPLIT, params.image.size), load_model(artifacts.MODEL)
    labels, (probabilities, logits) = labels_and_outputs(model, [model.output, model.get_layer(LOGITS).output], test)
    noise = probabilities_of(model, noise_images(NOISE_IMAGES, params.image.size, params.seed))
    info, unknown = load_model_info(artifacts.MODEL, model), None
    if folder := params.data.unknown_source:  # people in none of the classes
        photos, refused = prepare_folder(folder, info.faces, params.image.size, "data.unknown_source")
        unknown = probabilities_of(model, photos)
        print(f"evaluate: {len(photos)} faces of unknown people; files without one: {len(refused)}")
    bins, threshold, resamples = params.calibration.bins, info.min_confidence, params.evaluate.bootstrap_resamples
    calibration = Calibration(logits, temperature_of(model), bins, threshold, noise, unknown)
    ids, classes = read_labels_and_ids(artifacts.TEST_SPLIT)[1], load_classes(artifacts.INTERIM)
    result = evaluate(labels, probabilities, ids, classes, resamples, params.seed, calibration)
    write_json(artifacts.TEST, result.report)
    write_json(artifacts.SCORES_TEST, artifacts.test_headline(result.report))
    write_json(artifacts.PER_CLASS, result.per_class)
    write_json(artifacts.CALIBRATION, result.calibration)
    write_csv(artifacts.PREDICTIONS, result.predictions)
    for name, rows in result.plots.items():
        write_json(artifacts.plot(name), rows)
    print(f"evaluate: {result.summary()}")


if __name__ == "__main__":
    run_stage(main)
