"""Resume an interrupted training at its last finished epoch.

After an epoch (at most every ``runtime.backup_every_s`` seconds) :class:`EpochBackup`
writes one file, ``<directory>/backup.npz``, atomically and in the background:
the model's variables (weights and the dropout layers' random states, which a
``.keras`` file does not keep), the optimiser's variables
(step count, momentum deltas), the early-stopping state and the history so
far, under a fingerprint of everything that determines the run. A run with
the same fingerprint restores it and goes on with the next epoch; with the
epoch-seeded shuffling of :func:`starrec.data.datasets.training_batches` it ends
with the same weights as an uninterrupted run. Another fingerprint discards it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from starrec.atomic import atomic_path, write_json

BACKUP_FILE = "backup.npz"


def fingerprint(*parts) -> str:
    """sha256 of the parts' ``repr`` (params dataclasses, counts, statistics, data hashes)."""
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()


def load_finished(path: Path, expected: str) -> dict | None:
    """The result that :func:`save_finished` kept at ``path`` under fingerprint ``expected``; else None."""
    if not path.is_file():
        return None
    saved = json.loads(path.read_text(encoding="utf-8"))
    return saved if saved.pop("fingerprint") == expected else None


def save_finished(path: Path, expected: str, result: dict) -> None:
    """Keep a finished piece of a run (a fold's predictions) at ``path``, atomically, under ``expected``."""
    write_json(path, {"fingerprint": expected, **result})


@dataclass
class Backup:
    """The state after ``epoch`` finished epochs."""

    epoch: int
    history: dict[str, list[float]]
    model: list[np.ndarray]
    optimizer: list[np.ndarray]
    early_stopping: dict = field(default_factory=dict)
    best_weights: list[np.ndarray] | None = None


def load_backup(directory: Path, expected: str) -> Backup | None:
    """The backup in ``directory`` if its fingerprint is ``expected``; else None (and it is removed)."""
    path = directory / BACKUP_FILE
    if not path.is_file():
        return None
    with np.load(path) as saved:
        state = json.loads(str(saved["state"]))
        if state["fingerprint"] != expected:
            shutil.rmtree(directory)
            return None

        def arrays(prefix: str) -> list[np.ndarray]:
            return [saved[f"{prefix}_{i}"] for i in range(state["counts"][prefix])]

        best = arrays("best") if state["counts"]["best"] else None
        return Backup(
            state["epoch"], state["history"], arrays("model"), arrays("optimizer"), state["early_stopping"], best
        )


class EpochBackup(keras.callbacks.Callback):
    """Writes the backup after an epoch once ``every_s`` seconds passed since the last one (0: every epoch)
    but the last of ``epochs``; restores ``restored`` (if any) when training begins.

    The state is copied at the epoch's end and written by a background thread
    while the next epoch trains (one write at a time; :meth:`join` waits for
    it and raises its error). A run killed before it resumes from the
    previous backup, which stays whole until the new one replaces it.
    Put it after the :class:`keras.callbacks.EarlyStopping` it saves, so that
    its ``on_train_begin`` runs after that callback's reset.
    """

    def __init__(
        self,
        directory: Path,
        expected: str,
        restored: Backup | None,
        early_stopping: keras.callbacks.EarlyStopping | None,
        every_s: float = 0.0,
        epochs: int | None = None,
    ):
        super().__init__()
        self.directory, self.expected, self.restored = directory, expected, restored
        self.early_stopping, self.every_s, self.epochs = early_stopping, every_s, epochs
        self.history = {name: list(values) for name, values in restored.history.items()} if restored else {}
        self.last_backup = time.monotonic()
        self.writer: threading.Thread | None = None
        self.error: BaseException | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.last_backup = time.monotonic()
        backup = self.restored
        if backup is None:
            return
        optimizer = self.model.optimizer  # built by fit, in the strategy's scope
        for variable, value in zip(self.model.variables, backup.model, strict=True):
            variable.assign(value)
        for variable, value in zip(optimizer.variables, backup.optimizer, strict=True):
            variable.assign(value)
        if self.early_stopping is not None and backup.early_stopping:
            for name, value in backup.early_stopping.items():
                setattr(self.early_stopping, name, value)
            self.early_stopping.best_weights = backup.best_weights

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(float(value))
        if time.monotonic() - self.last_backup < self.every_s or epoch + 1 == self.epochs:
            return  # not yet, or the last epoch: the finished fit removes the backup
        stopping = self.early_stopping
        state = {
            "fingerprint": self.expected,
            "epoch": epoch + 1,
            "history": {name: list(values) for name, values in self.history.items()},
            "early_stopping": {}
            if stopping is None
            else {
                "wait": stopping.wait,
                "best": None if stopping.best is None else float(stopping.best),
                "best_epoch": stopping.best_epoch,
            },
        }
        arrays = {
            "model": [np.array(v.numpy()) for v in self.model.variables],  # copies: training goes on
            "optimizer": [np.array(v.numpy()) for v in self.model.optimizer.variables],
            "best": [] if stopping is None or stopping.best_weights is None else list(stopping.best_weights),
        }
        state["counts"] = {prefix: len(values) for prefix, values in arrays.items()}
        flat = {f"{prefix}_{i}": value for prefix, values in arrays.items() for i, value in enumerate(values)}
        self.join()
        self.writer = threading.Thread(target=self._write, args=(state, flat), name="starrec-backup")
        self.writer.start()
        self.last_backup = time.monotonic()

    def on_train_end(self, logs: dict | None = None) -> None:
        self.join()

    def join(self) -> None:
        """Wait for the backup being written; raise its error, if it had one."""
        if self.writer is not None:
            self.writer.join()
            self.writer = None
        error, self.error = self.error, None
        if error is not None:
            raise error

    def _write(self, state: dict, flat: dict) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with atomic_path(self.directory / BACKUP_FILE) as temporary, open(temporary, "wb") as stream:
                np.savez(stream, state=np.asarray(json.dumps(state)), **flat)
        except BaseException as error:  # re-raised in the training thread by join()
            self.error = error
