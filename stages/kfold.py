"""Stage kfold: stratified K-fold cross validation over train+val, a fresh model per fold."""

import numpy as np
from sklearn.metrics import accuracy_score, f1_score
from tqdm import tqdm

from starrec import paths
from starrec.atomic import write_json
from starrec.augment import with_augmented_copies
from starrec.datasets import from_arrays
from starrec.ingest import load_classes, sha256_by_id
from starrec.kfold import fold_indices, summarize_folds
from starrec.params import load_params
from starrec.preprocess import normalization_stats
from starrec.records import read_arrays
from starrec.stage import run_stage
from starrec.training import fit, predict_labels


def main() -> None:
    params = load_params(paths.PARAMS)
    size = params.image.size
    parts = [read_arrays(paths.SPLIT / name, size) for name in ("train", "val")]
    images, labels, ids = (np.concatenate(column) for column in zip(*parts))
    groups = sha256_by_id(paths.MANIFEST, ids)
    num_classes = len(load_classes(paths.INTERIM))
    folds = fold_indices(labels, groups, params.kfold.k, params.seed)
    scores, predicted = [], np.zeros_like(labels)
    for number, (train_index, test_index) in enumerate(tqdm(folds, desc="k-fold", unit="fold")):
        train = with_augmented_copies(from_arrays(images[train_index], labels[train_index]), params.augment, params.seed)
        stats = normalization_stats(images[train_index], params.augment.grayscale)
        n_train = len(train_index) * (params.augment.copies + 1)
        model, _ = fit(params, train, n_train, num_classes, stats, verbose=0)
        truth, probabilities = predict_labels(model, from_arrays(images[test_index], labels[test_index]))
        predicted[test_index] = probabilities.argmax(axis=1)
        scores.append({
            "fold": number,
            "n_test": len(test_index),
            "accuracy": float(accuracy_score(truth, predicted[test_index])),
            "f1_macro": float(f1_score(truth, predicted[test_index], average="macro", zero_division=0.0)),
        })
    summary = summarize_folds(scores)
    pooled = {
        "accuracy": float(accuracy_score(labels, predicted)),
        "f1_macro": float(f1_score(labels, predicted, average="macro", zero_division=0.0)),
    }
    write_json(paths.KFOLD, {"k": len(folds), **summary, "pooled": pooled, "folds": scores})
    print(
        f"kfold: k={len(folds)} accuracy {summary['accuracy']['mean']:.4f} ± {summary['accuracy']['std']:.4f}, "
        f"macro F1 {summary['f1_macro']['mean']:.4f} ± {summary['f1_macro']['std']:.4f}"
    )


if __name__ == "__main__":
    run_stage(main)
