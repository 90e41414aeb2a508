"""Stage learning_curve: K-fold training and validation accuracy by training-set size, and the verdict
(high bias, high variance or a good fit) -> metrics/learning_curve.json, metrics/learning_curve/points.json."""

from starrec import artifacts
from starrec.atomic import write_json
from starrec.cv.fold import FoldData, FoldSettings
from starrec.cv.learning_curve import learning_curve, plot_rows
from starrec.params import load_params
from starrec.stage import run_stage


def main() -> None:
    params = load_params(artifacts.PARAMS)
    data = FoldData.from_splits(params.image.size)
    settings = FoldSettings(params.kfold.k, params.seed, params.augment, params.model, params.train, params.runtime)
    curve = learning_curve(data, settings, params.learning_curve, artifacts.BACKUPS / "learning_curve")
    write_json(artifacts.LEARNING_CURVE_PLOT, plot_rows(curve))
    write_json(artifacts.LEARNING_CURVE, curve)
    print(f"learning_curve: {curve['line']}")


if __name__ == "__main__":
    run_stage(main)
