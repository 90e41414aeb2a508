"""Stage train: fit the CNN on the augmented training split, validate per epoch, save the model."""

from dvclive import Live
from dvclive.keras import DVCLiveCallback

from starrec import paths
from starrec.atomic import atomic_path, write_json
from starrec.manifest import load_classes
from starrec.model import classes_path
from starrec.params import load_params
from starrec.preprocess import NormalizationStats
from starrec.records import read_records
from starrec.stage import run_stage
from starrec.tensorboard import tensorboard_callbacks
from starrec.training import fit


def main() -> None:
    params = load_params(paths.PARAMS)
    train = read_records(paths.AUGMENTED_TRAIN, params.image.size)
    n_train = int(train.reduce(0, lambda count, _: count + 1))
    classes = load_classes(paths.INTERIM)
    with Live(dir=str(paths.TRAIN_LIVE), dvcyaml=None, save_dvc_exp=False, report=None) as live:
        callbacks = [DVCLiveCallback(live=live)]
        if params.train.tensorboard:
            callbacks += tensorboard_callbacks(paths.TENSORBOARD, train)
        model, history = fit(
            train,
            n_train,
            len(classes),
            NormalizationStats.load(paths.NORMALIZATION),
            params.model,
            params.train,
            params.seed,
            val_examples=read_records(paths.SPLIT / "val", params.image.size),
            callbacks=callbacks,
        )
    with atomic_path(paths.MODEL) as model_path:
        model.save(model_path)
    write_json(classes_path(paths.MODEL), classes)
    last = {name: round(values[-1], 4) for name, values in history.history.items()}
    print(f"train: {len(history.epoch)} epochs on {n_train} images; last epoch {last}")


if __name__ == "__main__":
    run_stage(main)
