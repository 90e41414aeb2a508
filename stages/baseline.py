"""Stage baseline: eigenfaces (PCA + SVC) and logistic regression on the CNN's split and input
-> metrics/baseline.json (accuracy and macro F1 on the test split, with 95 % intervals)."""

from starrec import artifacts
from starrec.atomic import write_json
from starrec.data.manifest import load_classes
from starrec.evaluation.baseline import score_baselines
from starrec.params import load_params
from starrec.stage import run_stage


def main() -> None:
    params = load_params(artifacts.PARAMS)
    report = score_baselines(
        artifacts.TRAIN_SPLIT,
        artifacts.TEST_SPLIT,
        len(load_classes(artifacts.INTERIM)),
        image_size=params.image.size,
        grayscale=params.augment.grayscale,
        params=params.baseline,
        resamples=params.evaluate.bootstrap_resamples,
        seed=params.seed,
    )
    write_json(artifacts.BASELINE, report)
    components = report["eigenfaces"]["pca_components"]
    if components != params.baseline.pca_components:
        print(f"baseline: baseline.pca_components {params.baseline.pca_components} -> {components} on this data")
    for name, scores in report.items():
        print(f"baseline {name}: test accuracy {scores['accuracy']:.4f}, macro F1 {scores['f1_macro']:.4f}")


if __name__ == "__main__":
    run_stage(main)
