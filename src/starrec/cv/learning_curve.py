"""Bias or variance, measured: K-fold training and validation accuracy by training-set size.

For each fraction f of ``learning_curve.fractions`` and each of the kfold stage's folds, a fresh model trains on a
stratified sample of f of the fold's training part and is scored on that sample (training accuracy, without
augmentation) and on the fold (validation accuracy). With all the data (the largest fraction):

    high bias (underfitting)   training accuracy < learning_curve.target_accuracy
    high variance (overfitting) training - validation accuracy > learning_curve.max_gap

and the validation accuracy's rise from the previous size says whether more data still helps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
from tqdm import tqdm

from starrec.cv.fold import FoldData, FoldSettings, examples_at, fold_training_data
from starrec.cv.splits import fold_indices
from starrec.params import LearningCurveParams
from starrec.train.inference import labels_and_probabilities
from starrec.train.resume import fingerprint, load_finished, save_finished
from starrec.train.training import RunOptions, fit

REMEDIES = {
    "high bias": "underfitting: a bigger network (model.conv_filters, model.dense_units), more epochs, less "
    "regularisation (model.dropout, model.l2), another train.learning_rate or train.momentum",
    "high variance": "overfitting: more data or augmentation (augment.copies), dropout (model.dropout) or weight "
    "decay (model.l2), a smaller network, early stopping (train.early_stopping_patience)",
}


def learning_curve(
    data: FoldData, settings: FoldSettings, limits: LearningCurveParams, backup_dir: Path | None = None
) -> dict:
    """metrics/learning_curve.json: per fraction, the mean training size and the training and validation
    accuracy over the folds (mean, std), and the diagnosis. With ``backup_dir``, each finished (fraction, fold)
    is kept there and a rerun trains only the others."""
    seed = settings.seed
    folds = fold_indices(data.labels, data.groups, settings.k, seed, data.classes)
    fixed = (settings.augment, settings.model, settings.train, seed, settings.k, data.data_id)
    expected = fingerprint(*fixed)
    points = []
    with tqdm(total=len(limits.fractions) * len(folds), desc="learning curve", unit="fold") as bar:
        for fraction in limits.fractions:
            scores = []
            for number, (train_index, test_index) in enumerate(folds):
                path = backup_dir / f"{fraction}-{number}.json" if backup_dir else None
                saved = path and load_finished(path, expected)
                if not saved:
                    kept = sample(train_index, data.labels, fraction, seed, number)
                    saved = train_and_score(data, kept, test_index, settings)
                    if path:
                        save_finished(path, expected, saved)
                scores.append(saved)
                bar.update()
            points.append(_point(fraction, scores))
    return {
        "k": len(folds),
        "points": points,
        **diagnose(points, limits),
    }


def sample(train_index: np.ndarray, labels: np.ndarray, fraction: float, seed: int, fold: int) -> np.ndarray:
    """A stratified ``fraction`` of a fold's training positions, in increasing order: all of them for 1, else
    at least one and at most all but one image of each class (so small data keeps every class)."""
    counts = np.unique(labels[train_index], return_counts=True)[1]
    n, classes = len(train_index), len(counts)
    kept = min(max(round(fraction * n), classes), n - classes)
    if fraction >= 1 or kept < classes or counts.min() < 2:  # too few to keep one and leave one of each class
        return train_index
    chosen, _ = train_test_split(
        train_index, train_size=kept, stratify=labels[train_index], random_state=(seed + fold) % 2**32
    )
    return np.sort(chosen)


def train_and_score(data: FoldData, kept: np.ndarray, test_index: np.ndarray, settings: FoldSettings) -> dict:
    """A fresh model trained on the examples ``kept``; its accuracy on them and on ``test_index``."""
    train, test = (examples_at(data.examples, len(data.labels), index) for index in (kept, test_index))
    images_per_epoch = len(kept) * (settings.augment.copies + 1)
    training = fold_training_data(train, images_per_epoch, len(data.classes), settings.augment, settings.seed, "")
    model, _ = fit(
        training, settings.model, settings.train, settings.seed, RunOptions(verbose=0, runtime=settings.runtime)
    )
    accuracy = {}
    for name, examples in (("train", train), ("validation", test)):
        truth, probabilities = labels_and_probabilities(model, examples)
        accuracy[name] = float(np.mean(probabilities.argmax(axis=1) == truth))
    return {"n_train": len(kept), **accuracy}


def diagnose(points: list[dict], limits: LearningCurveParams) -> dict:
    """``diagnosis`` (high bias | high variance | high bias and high variance | good fit), the gap and the last
    rise of the validation accuracy, and ``line``: the verdict in words with the lecture's remedies."""
    last = points[-1]
    train, validation = last["train"]["mean"], last["validation"]["mean"]
    gap = train - validation
    rise = validation - points[-2]["validation"]["mean"] if len(points) > 1 else None
    found = [
        name
        for name, hit in (("high bias", train < limits.target_accuracy), ("high variance", gap > limits.max_gap))
        if hit
    ]
    diagnosis = " and ".join(found) or "good fit"
    facts = f"training accuracy {train:.3f}, validation {validation:.3f} (gap {gap:+.3f})"
    if rise is not None:
        facts += f"; validation {rise:+.3f} from the previous size"
    remedies = "; ".join(REMEDIES[name] for name in found) or "training and validation agree, and both are high"
    if "high variance" in found and rise is not None and rise > 0:
        remedies += "; more data still helps"
    line = f"{diagnosis}: {facts}. {remedies[0].upper()}{remedies[1:]}."
    return {"diagnosis": diagnosis, "gap": gap, "rise": rise, "line": line}


def plot_rows(curve: dict) -> list[dict]:
    """The points for ``dvc plots``: mean training size, training and validation accuracy."""
    return [
        {"n_train": point["n_train"], "train": point["train"]["mean"], "validation": point["validation"]["mean"]}
        for point in curve["points"]
    ]


def _point(fraction: float, scores: list[dict]) -> dict:
    point: dict = {"fraction": fraction, "n_train": float(np.mean([score["n_train"] for score in scores]))}
    for name in ("train", "validation"):
        values = np.asarray([score[name] for score in scores])
        point[name] = {"mean": float(values.mean()), "std": float(values.std())}
    return point
