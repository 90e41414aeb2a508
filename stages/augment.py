"""Stage augment: augmented copies of the training split + normalisation statistics."""

from starrec import artifacts
from starrec.atomic import atomic_path
from starrec.data.augment import with_augmented_copies
from starrec.data.records import read_records, write_shards
from starrec.params import load_params
from starrec.stage import run_stage
from starrec.train.preprocess import normalization_stats


def main() -> None:
    params = load_params(artifacts.PARAMS)
    train = read_records(artifacts.TRAIN_SPLIT, params.image.size)
    variants = with_augmented_copies(train, params.augment, params.seed)
    with atomic_path(artifacts.AUGMENTED) as augmented:
        count = write_shards(
            ((v["image"], v["label"], v["id"].decode()) for v in variants.as_numpy_iterator()),
            augmented / artifacts.AUGMENTED_TRAIN.name,
            params.image.shard_size,
        )
        images = (batch["image"] for batch in train.batch(256).as_numpy_iterator())
        normalization_stats(images, params.augment.grayscale).save(augmented / artifacts.NORMALIZATION.name)
    print(f"augment: {count} training images, with {params.augment.copies} augmented copies of each original")


if __name__ == "__main__":
    run_stage(main)
