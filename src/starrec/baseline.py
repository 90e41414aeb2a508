"""Classic baselines on the CNN's split and input: is a CNN worth it on this data?

- ``eigenfaces``: PCA whitened to ``baseline.pca_components`` components, then an RBF
  support vector classifier (C = ``baseline.svc_c``, balanced class weights): the classic
  face-recognition method (Turk & Pentland, 1991; scikit-learn's faces example);
- ``logistic_regression``: multinomial logistic regression (C = ``baseline.logistic_c``) on
  the normalised pixels.

Both see exactly what the CNN sees: raw RGB through the model's own preprocessing layers
(grayscale if ``augment.grayscale``, normalisation with the training split's statistics),
flattened. Both fit the training split (not augmented) and are scored on the test split
with the same scores and 95 % intervals as metrics/test.json. Pixels are held in memory,
as scikit-learn needs them: (train + test images) x size^2 x 4 bytes.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.svm import SVC

from starrec.datasets import image_arrays
from starrec.errors import StarrecError
from starrec.intervals import score_intervals
from starrec.params import BaselineParams
from starrec.preprocess import normalization_stats, preprocessing_layers
from starrec.records import read_records

SCORES = ("accuracy", "f1_macro")


def pipelines(params: BaselineParams, seed: int) -> dict[str, Pipeline]:
    """The baselines by name, unfitted."""
    return {
        "eigenfaces": make_pipeline(
            PCA(params.pca_components, whiten=True, random_state=seed),
            SVC(C=params.svc_c, kernel="rbf", class_weight="balanced", random_state=seed),
        ),
        "logistic_regression": make_pipeline(LogisticRegression(C=params.logistic_c, max_iter=1000)),
    }


def score_baselines(
    train_dir: Path,
    test_dir: Path,
    num_classes: int,
    *,
    image_size: int,
    grayscale: bool,
    params: BaselineParams,
    resamples: int,
    seed: int,
) -> dict:
    """metrics/baseline.json: per baseline, accuracy and macro F1 on the test split with their ``ci95``."""
    train_images, train_labels = image_arrays(read_records(train_dir, image_size))
    test_images, test_labels = image_arrays(read_records(test_dir, image_size))
    features = min(len(train_labels), int(np.prod(train_images.shape[1:3])) * (1 if grayscale else 3))
    if params.pca_components > features:
        raise StarrecError(
            f"params.yaml: baseline.pca_components: {params.pca_components} is more than the "
            f"{features} that {len(train_labels)} training images of {image_size} px allow; use at most {features}"
        )
    preprocess = keras.Sequential(preprocessing_layers(normalization_stats([train_images], grayscale)))

    def inputs(images: np.ndarray) -> np.ndarray:
        return np.asarray(preprocess(images.astype(np.float32))).reshape(len(images), -1)

    x_train, x_test = inputs(train_images), inputs(test_images)
    report = {}
    for name, pipeline in pipelines(params, seed).items():
        predicted = pipeline.fit(x_train, train_labels).predict(x_test)
        intervals = score_intervals(test_labels, predicted, num_classes, resamples, seed)
        report[name] = {
            "accuracy": float(accuracy_score(test_labels, predicted)),
            "f1_macro": float(f1_score(test_labels, predicted, average="macro", zero_division=0.0)),
            "ci95": {score: intervals[score] for score in SCORES},
        }
    return report
