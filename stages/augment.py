"""Stage augment: augmented copies of the training split + normalisation statistics."""

from starrec import paths
from starrec.atomic import atomic_path
from starrec.augment import with_augmented_copies
from starrec.datasets import from_arrays
from starrec.params import load_params
from starrec.preprocess import normalization_stats
from starrec.records import read_arrays, write_shards
from starrec.stage import run_stage


def main() -> None:
    params = load_params(paths.PARAMS)
    train_images, train_labels, train_ids = read_arrays(paths.SPLIT / "train", params.image.size)
    variants = with_augmented_copies(from_arrays(train_images, train_labels, train_ids), params.augment, params.seed)
    with atomic_path(paths.AUGMENTED) as augmented:
        count = write_shards(
            ((v["image"], v["label"], v["id"].decode()) for v in variants.as_numpy_iterator()),
            augmented / paths.AUGMENTED_TRAIN.name,
            params.image.shard_size,
        )
        normalization_stats([train_images], params.augment.grayscale).save(augmented / paths.NORMALIZATION.name)
    print(f"augment: {len(train_images)} training images -> {count} with {params.augment.copies} augmented copies each")


if __name__ == "__main__":
    run_stage(main)
