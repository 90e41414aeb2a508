"""Stage train: fit the CNN on the augmented training split (a killed run resumes at its last epoch), then
its temperature and the least confidence it answers with on the validation split (calibration)."""

import time

from starrec import artifacts
from starrec.atomic import write_json
from starrec.data.manifest import load_classes
from starrec.data.records import content_hash, count_records, read_records
from starrec.hardware import training_machine
from starrec.model_info import ModelInfo
from starrec.params import load_params
from starrec.stage import run_stage
from starrec.train.calibrate import calibrate
from starrec.train.distribute import is_chief, make_strategy
from starrec.train.model_file import save_model
from starrec.train.preprocess import NormalizationStats
from starrec.train.tensorboard import tensorboard_callbacks
from starrec.train.training import LiveMetrics, RunOptions, TrainingData, fit


def main() -> None:
    params = load_params(artifacts.PARAMS)
    strategy = make_strategy(params.train.distribute)  # before any other TensorFlow op
    chief = is_chief(strategy)  # every worker of a multi_worker run trains; only the chief writes
    train, val = artifacts.AUGMENTED_TRAIN, artifacts.VAL_SPLIT
    examples, classes = read_records(train, params.image.size), load_classes(artifacts.INTERIM)
    callbacks = [LiveMetrics(artifacts.TRAIN_LIVE, artifacts.TRAIN_LIVE_PARTIAL)] if chief else []
    if chief and params.runtime.tensorboard:
        callbacks += tensorboard_callbacks(artifacts.TENSORBOARD, examples)
    stats, val_examples = NormalizationStats.load(artifacts.NORMALIZATION), read_records(val, params.image.size)
    data = TrainingData(examples, count_records(train), len(classes), stats, val_examples, content_hash(train, val))
    backups, started = (artifacts.BACKUPS / "train" if chief else None), time.monotonic()
    run = RunOptions(callbacks=callbacks, backup_dir=backups, strategy=strategy, runtime=params.runtime)
    model, history = fit(data, params.model, params.train, params.seed, run)
    if chief:
        calibrated = calibrate(model, val_examples, params.calibration)
        print(calibrated.summary())
        save_model(calibrated.model, ModelInfo(classes, params.faces, calibrated.min_confidence), artifacts.MODEL)
        write_json(artifacts.TRAIN_MACHINE, training_machine(params.train.precision, time.monotonic() - started))
    print(f"train: {len(history.epoch)} epochs on {strategy.num_replicas_in_sync} replica(s)")


if __name__ == "__main__":
    run_stage(main)
