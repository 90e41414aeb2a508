"""Stage train: fit the CNN on the augmented training split (a killed run resumes at its last epoch)."""

from dvclive import Live

from starrec import paths
from starrec.manifest import load_classes
from starrec.model import ModelInfo, save_model
from starrec.params import load_params
from starrec.preprocess import NormalizationStats
from starrec.records import content_hash, count_records, read_records
from starrec.stage import run_stage
from starrec.tensorboard import tensorboard_callbacks
from starrec.training import LiveMetrics, fit


def main() -> None:
    params = load_params(paths.PARAMS)
    train, val = paths.AUGMENTED_TRAIN, paths.SPLIT / "val"
    examples, classes = read_records(train, params.image.size), load_classes(paths.INTERIM)
    with Live(dir=str(paths.TRAIN_LIVE), dvcyaml=None, save_dvc_exp=False, report=None) as live:
        board = tensorboard_callbacks(paths.TENSORBOARD, examples) if params.train.tensorboard else []
        model, history = fit(
            examples,
            count_records(train),
            len(classes),
            NormalizationStats.load(paths.NORMALIZATION),
            params.model,
            params.train,
            params.seed,
            val_examples=read_records(val, params.image.size),
            callbacks=[LiveMetrics(live=live), *board],
            backup_dir=paths.BACKUPS / "train",
            data_id=content_hash(train, val),
        )
    save_model(model, ModelInfo(classes, params.faces), paths.MODEL)
    print(f"train: {len(history.epoch)} epochs; last { ({k: round(v[-1], 4) for k, v in history.history.items()}) }")


if __name__ == "__main__":
    run_stage(main)
