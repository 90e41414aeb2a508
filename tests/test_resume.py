"""A training interrupted after an epoch resumes there and ends exactly as an uninterrupted one."""

import keras
import numpy as np
import pytest

from helpers.data import fit_arrays, from_arrays, replace
from starrec.train.resume import BACKUP_FILE


class Crash(keras.callbacks.Callback):
    """Dies at the end of one epoch, after the backup is taken (written in the background: fit waits for it)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


@pytest.mark.parametrize("patience", [0, 2])
def test_resumed_training_ends_with_the_same_weights_and_history(tmp_path, tiny_params, tiny_arrays, patience):
    images, labels = tiny_arrays
    params = replace(tiny_params, "model", dropout=0.3)  # the dropout masks must continue too
    params = replace(replace(params, "train", epochs=5, early_stopping_patience=patience), "runtime", backup_every_s=0)
    validation = {"val_examples": from_arrays(images[::3], labels[::3])}
    straight, straight_history = fit_arrays(params, images, labels, **validation)
    with pytest.raises(KeyboardInterrupt):
        fit_arrays(params, images, labels, backup_dir=tmp_path, callbacks=[Crash(2)], **validation)
    assert (tmp_path / BACKUP_FILE).is_file()
    resumed, resumed_history = fit_arrays(params, images, labels, backup_dir=tmp_path, **validation)
    for a, b in zip(straight.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert resumed_history.history == straight_history.history
    assert not tmp_path.exists()  # a finished fit leaves no backup


def test_a_backup_of_other_params_is_discarded(tmp_path, tiny_params, tiny_arrays):
    params = replace(replace(tiny_params, "train", epochs=3), "runtime", backup_every_s=0)
    with pytest.raises(KeyboardInterrupt):
        fit_arrays(params, *tiny_arrays, backup_dir=tmp_path, callbacks=[Crash(0)])
    other = replace(params, "train", momentum=0.5)
    straight, _ = fit_arrays(other, *tiny_arrays)
    resumed, history = fit_arrays(other, *tiny_arrays, backup_dir=tmp_path)
    assert len(history.epoch) == 3
    for a, b in zip(straight.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_backups_wait_for_runtime_backup_every_s(tmp_path, tiny_params, tiny_arrays):
    params = replace(replace(tiny_params, "train", epochs=3), "runtime", backup_every_s=3600)
    with pytest.raises(KeyboardInterrupt):
        fit_arrays(params, *tiny_arrays, backup_dir=tmp_path, callbacks=[Crash(1)])
    assert not (tmp_path / BACKUP_FILE).exists()  # two epochs took less than an hour
    straight, _ = fit_arrays(params, *tiny_arrays)
    resumed, history = fit_arrays(params, *tiny_arrays, backup_dir=tmp_path)  # starts again
    assert len(history.epoch) == 3
    for a, b in zip(straight.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_backup_that_cannot_be_written_stops_the_training_with_its_path(tmp_path, tiny_params, tiny_arrays):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    params = replace(replace(tiny_params, "train", epochs=2), "runtime", backup_every_s=0)
    with pytest.raises(OSError) as error:
        fit_arrays(params, *tiny_arrays, backup_dir=blocked / "backup")
    assert "a-file" in str(error.value)


def test_backup_every_s_leaves_the_result_alone(tmp_path, tiny_params, tiny_arrays, capsys):
    """A backup taken under one runtime.backup_every_s resumes under another: the timing is no part of the run."""
    params = replace(replace(tiny_params, "train", epochs=3), "runtime", backup_every_s=0)
    with pytest.raises(KeyboardInterrupt):
        fit_arrays(params, *tiny_arrays, backup_dir=tmp_path, callbacks=[Crash(1)])
    capsys.readouterr()
    _, history = fit_arrays(replace(params, "runtime", backup_every_s=90), *tiny_arrays, backup_dir=tmp_path, verbose=1)
    assert "resuming after epoch 2" in capsys.readouterr().out
    assert history.epoch == [0, 1, 2] and len(history.history["loss"]) == 3
