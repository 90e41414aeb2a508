"""Stage export: models/model.keras as a SavedModel, ONNX and LiteRT in models/export, each run
with its own runtime on test images -> metrics/export.json (largest probability differences, latency on one
photo, sizes; with export.quantize, the quantised LiteRT model's size and test accuracy against the float32 one)."""

import numpy as np

from starrec import artifacts
from starrec.atomic import write_json
from starrec.data.datasets import image_arrays
from starrec.data.records import read_records
from starrec.params import load_params
from starrec.ship.export import export_model, quantized_report
from starrec.stage import run_stage
from starrec.train.model_file import load_model, load_model_info

CHECKED_IMAGES = 256


def main() -> None:
    params = load_params(artifacts.PARAMS)
    model, quantize = load_model(artifacts.MODEL), params.export.quantize
    test = read_records(artifacts.TEST_SPLIT, params.image.size)  # all of it to measure a quantised model
    test_images, test_labels = image_arrays(test, -1 if quantize != "none" else CHECKED_IMAGES)
    images = test_images[:CHECKED_IMAGES]
    calibration = None
    if quantize == "int8":
        wanted = params.export.calibration_images
        calibration, _ = image_arrays(read_records(artifacts.TRAIN_SPLIT, params.image.size), wanted)
        if len(calibration) < wanted:
            print(f"export: int8 calibrated on all {len(calibration)} training images, not export.calibration_images")
    info = load_model_info(artifacts.MODEL, model)
    copy, checked = export_model(model, info, artifacts.EXPORT, images, quantize, calibration)
    trained, exported = (m(images.astype(np.float32)).numpy().argmax(axis=1) for m in (model, copy))
    agreement = float(np.mean(trained == exported))
    report: dict = {**checked.report(), "top1_agreement": agreement}
    if quantize != "none":
        report["quantized"] = quantized_report(artifacts.EXPORT, quantize, test_images, test_labels)
        print(f"export: {report['quantized']}")
    write_json(artifacts.EXPORT_CHECK, report)
    print(f"export: {checked.summary()}; top-1 as trained {agreement:.4f}")


if __name__ == "__main__":
    run_stage(main)
