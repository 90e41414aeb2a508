"""Stage export: models/model.keras as a SavedModel, ONNX and LiteRT in models/export, each run
with its own runtime on test images -> metrics/export.json (largest probability differences)."""

import numpy as np

from starrec import paths
from starrec.atomic import write_json
from starrec.data.datasets import image_arrays
from starrec.data.records import read_records
from starrec.params import load_params
from starrec.ship.export import export_model
from starrec.stage import run_stage
from starrec.train.model_file import load_model, load_model_info

CHECKED_IMAGES = 256


def main() -> None:
    params = load_params(paths.PARAMS)
    model = load_model(paths.MODEL)
    images, _ = image_arrays(read_records(paths.TEST_SPLIT, params.image.size), CHECKED_IMAGES)
    copy, differences = export_model(model, load_model_info(paths.MODEL, model), paths.EXPORT, images)
    trained, exported = (m(images.astype(np.float32)).numpy().argmax(axis=1) for m in (model, copy))
    agreement = float(np.mean(trained == exported))
    write_json(paths.EXPORT_CHECK, {"max_abs_difference": differences, "top1_agreement": agreement})
    print(f"export: {', '.join(f'{n} {d:.1e}' for n, d in differences.items())}; top-1 as trained {agreement:.4f}")


if __name__ == "__main__":
    run_stage(main)
