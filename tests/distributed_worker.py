"""One training process for tests/test_distribute.py: ``python distributed_worker.py MODE EPOCHS OUT``.

Builds the tiny data of ``helpers.data.make_tiny_arrays``, trains with ``train.distribute``
= MODE (multi_worker reads TF_CONFIG; ``mirrored2`` first splits the CPU into two
logical devices) and writes the final weights and history to OUT (an .npz).
Environment: DROPOUT (default 0.3); BACKUP, a backup folder for the chief; CRASH_AFTER,
an epoch after which the chief exits (its backup written).
"""

import contextlib
import json
import os
import sys
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).parent))
from helpers.data import fit_arrays, from_arrays, replace
from starrec.data.download import synthetic_image
from starrec.params import parse_params
from starrec.train.distribute import is_chief, make_strategy
from starrec.train.resume import BACKUP_FILE


class Crash(keras.callbacks.Callback):
    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            wait_for_backup(Path(os.environ["BACKUP"]) / BACKUP_FILE, epoch + 1)  # written in the background
            os._exit(3)  # like a kill: no clean-up


def wait_for_backup(path: Path, epochs: int, seconds: float = 60) -> None:
    """Until ``path`` holds the backup after ``epochs`` epochs."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, KeyError, ValueError), np.load(path) as saved:
            if json.loads(str(saved["state"]))["epoch"] == epochs:
                return
        time.sleep(0.01)
    raise SystemExit(f"no backup of epoch {epochs} in {path}")


def main(mode: str, epochs: int, out: Path) -> None:
    if mode == "mirrored2":
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        mode = "mirrored"
    strategy = make_strategy(mode)
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 8).astype(np.int64)
    images = np.stack([synthetic_image(int(c), 3, rng, size=16) for c in labels])
    params = parse_params(
        {
            "seed": 7,
            "image": {"size": 16},
            "model": {"conv_filters": [4], "dense_units": [8], "dropout": float(os.environ.get("DROPOUT", "0.3"))},
            "train": {
                "epochs": epochs,
                "batch_size": 5,
                "learning_rate": 0.01,
                "precision": "float32",
            },
            "runtime": {"backup_every_s": 0},
        }
    )
    params = replace(params, "train", early_stopping_patience=2)
    validation = from_arrays(images[::3], labels[::3])
    chief = is_chief(strategy)
    crash = [Crash(int(os.environ["CRASH_AFTER"]))] if "CRASH_AFTER" in os.environ and chief else []
    backup = Path(os.environ["BACKUP"]) if "BACKUP" in os.environ and chief else None
    model, history = fit_arrays(
        params,
        images,
        labels,
        strategy=strategy,
        val_examples=validation,
        verbose=1,
        callbacks=crash,
        backup_dir=backup,
    )
    arrays = {f"w{i}": w for i, w in enumerate(model.get_weights())}
    np.savez(out, **arrays, **{f"h_{k}": np.asarray(v) for k, v in history.history.items()})


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]))
