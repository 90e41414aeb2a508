"""Classic baselines on the CNN's split and input: is a CNN worth it on this data?

- ``eigenfaces``: PCA whitened to ``baseline.pca_components`` components (:func:`pca_components`), then an RBF
  support vector classifier (C = ``baseline.svc_c``, balanced class weights): the classic
  face-recognition method (Turk & Pentland, 1991; scikit-learn's faces example);
- ``logistic_regression``: multinomial logistic regression (C = ``baseline.logistic_c``) on
  the normalised pixels.

Both see exactly what the CNN sees: raw RGB through the model's own preprocessing layers
(grayscale if ``augment.grayscale``, normalisation with the training split's statistics),
flattened. Both fit the training split (not augmented) and are scored on the test split
with the same scores and 95 % intervals as metrics/test.json. scikit-learn needs the
features in memory: (train + test images) x size^2 (x 3 without grayscale) x 4 bytes,
filled one batch of pixels at a time.
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

from starrec.data.datasets import batches
from starrec.data.records import count_records, read_records
from starrec.errors import StarrecError
from starrec.evaluation.intervals import score_intervals
from starrec.params import BaselineParams
from starrec.train.preprocess import normalization_stats, preprocessing_layers

SCORES = ("accuracy", "f1_macro")
BATCH = 256
AUTO_COMPONENTS = 100
"""Turk & Pentland kept tens of eigenfaces; scikit-learn's faces example keeps 150 of ~1,000 photos."""


def pca_components(wanted: int | str, n_train: int, n_features: int) -> int:
    """``baseline.pca_components`` for this data: ``auto`` is min(AUTO_COMPONENTS, n_train - 1, n_features)
    (whitening divides by each component's spread, and the n_train-th of centred data has none);
    an explicit number above min(n_train, n_features) is refused."""
    if wanted == "auto":
        return max(1, min(AUTO_COMPONENTS, n_train - 1, n_features))
    allowed = min(n_train, n_features)
    if int(wanted) > allowed:
        raise StarrecError(
            f"params.yaml: baseline.pca_components: {wanted} is more than the {allowed} that {n_train} "
            f"training images of {n_features} features allow; use at most {allowed}, or auto"
        )
    return int(wanted)


def pipelines(params: BaselineParams, seed: int, components: int) -> dict[str, Pipeline]:
    """The baselines by name, unfitted."""
    return {
        "eigenfaces": make_pipeline(
            PCA(components, whiten=True, random_state=seed),
            SVC(C=params.svc_c, kernel="rbf", class_weight="balanced", random_state=seed),
        ),
        "logistic_regression": make_pipeline(LogisticRegression(C=params.logistic_c, max_iter=1000)),
    }


def pixel_features(directory: Path, image_size: int, preprocess: keras.Model) -> tuple[np.ndarray, np.ndarray]:
    """(float32 features (n, size * size * channels), labels) of a split: each batch of images
    through ``preprocess``, flattened into one preallocated array."""
    n = count_records(directory)
    features: np.ndarray | None = None
    labels, start = np.zeros(n, np.int64), 0
    for images, batch_labels in batches(read_records(directory, image_size), BATCH):
        rows = preprocess(images).numpy().reshape(len(batch_labels), -1)
        if features is None:
            features = np.empty((n, rows.shape[1]), np.float32)
        features[start : start + len(rows)] = rows
        labels[start : start + len(rows)] = batch_labels.numpy()
        start += len(rows)
    if features is None:
        raise StarrecError(f"{directory}: no images")
    return features, labels


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
    """metrics/baseline.json: per baseline, accuracy and macro F1 on the test split with their ``ci95``
    (and the PCA components the eigenfaces kept)."""
    n_train = count_records(train_dir)
    components = pca_components(params.pca_components, n_train, image_size * image_size * (1 if grayscale else 3))
    pixels = (images.numpy() for images, _ in batches(read_records(train_dir, image_size), BATCH))
    preprocess = keras.Sequential(preprocessing_layers(normalization_stats(pixels, grayscale)))
    x_train, train_labels = pixel_features(train_dir, image_size, preprocess)
    x_test, test_labels = pixel_features(test_dir, image_size, preprocess)
    report = {}
    for name, pipeline in pipelines(params, seed, components).items():
        predicted = pipeline.fit(x_train, train_labels).predict(x_test)
        intervals = score_intervals(test_labels, predicted, num_classes, resamples, seed)
        report[name] = {
            "accuracy": float(accuracy_score(test_labels, predicted)),
            "f1_macro": float(f1_score(test_labels, predicted, average="macro", zero_division=0.0)),
            "ci95": {score: intervals[score] for score in SCORES},
        }
    report["eigenfaces"]["pca_components"] = components
    return report
