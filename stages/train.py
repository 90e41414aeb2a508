"""Stage train: fit the CNN on the augmented training split, validate per epoch, save the model."""

from dvclive import Live
from dvclive.keras import DVCLiveCallback

from starrec import paths
from starrec.atomic import atomic_path, write_json
from starrec.ingest import load_classes
from starrec.model import classes_path
from starrec.params import load_params
from starrec.preprocess import load_stats
from starrec.records import read_records
from starrec.stage import run_stage
from starrec.training import fit
from starrec.tensorboard import tensorboard_callbacks


def main() -> None:
    params = load_params(paths.PARAMS)
    size = params.image.size
    train = read_records(paths.AUGMENTED_TRAIN, size)
    n_train = int(train.reduce(0, lambda count, _: count + 1))
    classes = load_classes(paths.INTERIM)
    with Live(dir=str(paths.TRAIN_LIVE), dvcyaml=None, save_dvc_exp=False, report=None) as live:
        callbacks = [DVCLiveCallback(live=live)]
        if params.train.tensorboard:
            callbacks += tensorboard_callbacks(paths.TENSORBOARD, train)
        model, history = fit(
            params,
            train,
            n_train,
            num_classes=len(classes),
            stats=load_stats(paths.NORMALIZATION),
            val_examples=read_records(paths.SPLIT / "val", size),
            callbacks=callbacks,
        )
    with atomic_path(paths.MODEL) as model_path:
        model.save(model_path)
    write_json(classes_path(paths.MODEL), classes)
    last = {name: round(values[-1], 4) for name, values in history.history.items()}
    print(f"train: {len(history.epoch)} epochs on {n_train} images; last epoch {last}")


if __name__ == "__main__":
    run_stage(main)
