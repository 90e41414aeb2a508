"""Stage learning_curve: K-fold training and validation accuracy by training-set size, and the verdict
(high bias, high variance or a good fit) -> metrics/learning_curve.json, metrics/learning_curve/points.json."""

from starrec import paths
from starrec.atomic import write_json
from starrec.evaluation.fold import FoldData, FoldSettings
from starrec.params import load_params
from starrec.stage import run_stage
from starrec.tune.learning_curve import learning_curve, plot_rows


def main() -> None:
    params = load_params(paths.PARAMS)
    data = FoldData.from_splits(paths.TRAIN_SPLIT, paths.VAL_SPLIT, paths.MANIFEST, paths.INTERIM, params.image.size)
    settings = FoldSettings(params.kfold.k, params.seed, params.augment, params.model, params.train)
    curve = learning_curve(data, settings, params.learning_curve, paths.BACKUPS / "learning_curve")
    write_json(paths.LEARNING_CURVE_PLOT, plot_rows(curve))
    write_json(paths.LEARNING_CURVE, curve)
    print(f"learning_curve: {curve['line']}")


if __name__ == "__main__":
    run_stage(main)
