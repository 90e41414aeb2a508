"""Training: batch modes, reproducibility, divergence, logged schedules, saved models."""

import dataclasses
import json
import os
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

import starrec
from helpers.data import fit_arrays as train
from helpers.data import from_arrays, replace
from helpers.project import ROOT
from starrec.data.datasets import resolve_batch_size
from starrec.model_info import parse_model_info
from starrec.params import MomentumSchedule
from starrec.train.inference import labels_and_probabilities
from starrec.train.model_file import load_model, load_model_info
from starrec.train.network import build_model
from starrec.train.preprocess import NormalizationStats
from starrec.train.training import LiveMetrics, TrainingDiverged, _loop_input


@pytest.mark.parametrize("batch_size, steps", [(1, 24), ("full", 1), (32, 1), (5, 5)])
def test_stochastic_full_and_mini_batch_steps(tiny_params, tiny_arrays, batch_size, steps):
    params = replace(tiny_params, "train", batch_size=batch_size)
    model, history = train(params, *tiny_arrays)
    assert int(model.optimizer.iterations) == steps * params.train.epochs
    assert len(history.history["loss"]) == params.train.epochs


def test_resolve_batch_size():
    assert resolve_batch_size("full", 100) == 100
    assert resolve_batch_size(32, 10) == 10
    assert resolve_batch_size(1, 10) == 1


def test_same_seed_gives_identical_weights(tiny_params, tiny_arrays):
    first, _ = train(tiny_params, *tiny_arrays)
    second, _ = train(tiny_params, *tiny_arrays)
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_runtime_cache_changes_no_weight(tiny_params, tiny_arrays):
    """runtime.cache keeps the pixels in memory, on disk or not at all: the batches and so the weights are the
    same (why no stage depends on it)."""
    weights = {
        mode: train(replace(tiny_params, "runtime", cache=mode), *tiny_arrays)[0].get_weights()
        for mode in ("memory", "disk", "none")
    }
    for other in ("disk", "none"):
        for a, b in zip(weights["memory"], weights[other], strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("seed", [0, 2**31 - 1])  # both ends of the seed's range; TensorFlow truncates both to 0
def test_every_seed_of_the_range_trains_reproducibly(tiny_params, tiny_arrays, seed):
    params = dataclasses.replace(tiny_params, seed=seed)
    first, history = train(params, *tiny_arrays)
    second, _ = train(params, *tiny_arrays)
    assert len(history.history["loss"]) == params.train.epochs
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_schedule_values_are_logged_per_epoch(tiny_params, tiny_arrays):
    params = replace(
        tiny_params,
        "train",
        epochs=3,
        batch_size="full",
        lr_decay_epochs=1,
        lr_decay_rate=0.5,
        momentum_schedule=MomentumSchedule(end=0.5, rate=0.5),
    )
    _, history = train(params, *tiny_arrays)
    assert history.history["learning_rate"] == pytest.approx([0.01, 0.005, 0.0025])
    assert history.history["momentum"] == pytest.approx([0.9, 0.7, 0.6])


def test_divergence_stops_with_a_message_naming_the_params(tiny_params, tiny_arrays):
    params = replace(tiny_params, "train", learning_rate=1e12, momentum=0.99)
    with pytest.raises(TrainingDiverged, match="train.learning_rate"):
        train(params, *tiny_arrays)


def test_early_stopping_needs_and_uses_validation(tiny_params, tiny_arrays):
    params = replace(tiny_params, "train", epochs=30, early_stopping_patience=1, learning_rate=1e-9, momentum=0.0)
    images, labels = tiny_arrays
    _, history = train(params, images, labels, val_examples=from_arrays(images, labels))
    assert len(history.epoch) < 30


def test_the_loops_iterators_have_no_autotune_thread_to_wait_for():
    """Deleting an iterator waits out the autotune thread's sleep (3.4 s after a 7 s fit); shards by element."""
    options = _loop_input(tf.data.Dataset.range(4).batch(2)).options()
    assert options.autotune.enabled is False
    assert options.experimental_distribute.auto_shard_policy == tf.data.experimental.AutoShardPolicy.DATA


# How closely each precision's Keras val_loss equals the cross-entropy of predict's probabilities: float32 to
# rounding; bfloat16 rounds each batch's activations (~3 significant digits), and a batch's rounding depends on
# its size, so Keras' batches and predict's differ by ~0.2 % (measured: 0.86958 vs 0.87078).
VAL_LOSS_REL = {"float32": 1e-5, "mixed_bfloat16": 1e-2}


@pytest.mark.parametrize("precision", sorted(VAL_LOSS_REL))
@pytest.mark.parametrize("n_val", [7, 8, 21])  # one partial batch, one full batch, a partial last batch of 8
def test_each_epochs_validation_scores_every_validation_image_once(tiny_params, tiny_arrays, n_val, precision):
    params = replace(tiny_params, "model", l2=0.0)  # val_loss is then the mean cross-entropy alone
    params = replace(params, "train", precision=precision)
    images, labels = tiny_arrays
    order = np.random.default_rng(n_val).permutation(len(labels))[:n_val]
    model, history = train(params, images, labels, val_examples=from_arrays(images[order], labels[order]))
    truth, probabilities = labels_and_probabilities(model, from_arrays(images[order], labels[order]))
    right = probabilities.argmax(axis=1) == truth
    if precision == "float32":
        assert history.history["val_accuracy"][-1] == np.mean(right)
    else:  # an image whose top two classes tie within bfloat16's rounding may flip between the two batchings
        assert abs(history.history["val_accuracy"][-1] - np.mean(right)) <= 1 / n_val
    cross_entropy = -np.log(probabilities[np.arange(n_val), truth])
    assert history.history["val_loss"][-1] == pytest.approx(cross_entropy.mean(), rel=VAL_LOSS_REL[precision])


def test_saved_model_reloads_and_predicts_the_same(tmp_path, tiny_params, tiny_arrays):
    model, _ = train(tiny_params, *tiny_arrays)
    model.save(tmp_path / "model.keras")
    reloaded = load_model(tmp_path / "model.keras")
    _, before = labels_and_probabilities(model, from_arrays(*tiny_arrays))
    _, after = labels_and_probabilities(reloaded, from_arrays(*tiny_arrays))
    np.testing.assert_allclose(before, after, rtol=1e-6)
    assert reloaded.get_layer("grayscale") is not None


def test_model_layers_follow_params(tiny_params):
    stats = NormalizationStats(False, (0.0,) * 3, (1.0,) * 3)
    model = build_model(
        16, 5, replace(tiny_params, "model", conv_filters=[4, 6], dense_units=[8, 7], dropout=0.5).model, stats
    )
    names = [layer.name for layer in model.layers]
    assert names.count("dropout_1") == 1 and "conv_2" in names and "grayscale" not in names
    assert model.output_shape == (None, 5)


def test_the_lectures_140_pixels_and_network_train(tiny_params, tiny_arrays):
    from starrec.data.images import resize

    images = np.stack([resize(image, 140) for image in tiny_arrays[0][:4]])
    params = replace(tiny_params, "image", size=140)
    params = replace(params, "model", conv_filters=[64, 64], kernel_size=5, dense_units=[384, 192])
    params = replace(params, "train", epochs=1, batch_size=4)
    model, history = train(params, images, tiny_arrays[1][:4])
    assert model.input_shape == (None, 140, 140, 3) and np.isfinite(history.history["loss"][0])


class Interrupt(keras.callbacks.Callback):
    """Looks at the dvclive folders after each epoch, and stops the run (as a kill would) after ``epochs``."""

    def __init__(self, final, partial, epochs):
        super().__init__()
        self.final, self.partial, self.epochs, self.seen = final, partial, epochs, []

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append((self.final.exists(), (self.partial / "metrics.json").is_file()))
        if epoch + 1 == self.epochs:
            raise KeyboardInterrupt


def test_dvclive_results_appear_only_when_the_training_ends(tmp_path, tiny_params, tiny_arrays):
    images, labels = tiny_arrays
    final, partial = tmp_path / "metrics" / "train", tmp_path / ".backup" / "live"
    killed = Interrupt(final, partial, epochs=2)
    params = replace(tiny_params, "train", epochs=4)
    with pytest.raises(KeyboardInterrupt):
        train(params, images, labels, callbacks=[LiveMetrics(final, partial), killed])
    assert killed.seen == [(False, True), (False, True)]  # written aside while it ran
    assert not final.exists()  # nothing that `dvc metrics show` would read
    watcher = Interrupt(final, partial, epochs=99)
    train(params, images, labels, callbacks=[LiveMetrics(final, partial), watcher])
    assert watcher.seen == [(False, True)] * 4
    summary = json.loads((final / "metrics.json").read_text())
    assert summary["step"] == 3 and not partial.exists()
    assert len((final / "plots" / "metrics" / "train" / "loss.tsv").read_text().splitlines()) == 1 + 4


SAVE_IN_A_NEW_PROCESS = """
import sys
from pathlib import Path
sys.path.insert(0, "tests")
from helpers.data import fit_arrays, make_tiny_arrays, make_tiny_params
from starrec.model_info import ModelInfo
from starrec.params import FacesParams
from starrec.train.model_file import save_model
model, _ = fit_arrays(make_tiny_params(), *make_tiny_arrays())
save_model(model, ModelInfo(["red", "green", "blue"], FacesParams()), Path(sys.argv[1]))
"""


@pytest.mark.slow  # two processes that train: make test, not make test-fast
def test_the_same_training_gives_the_same_model_file_bytes_in_every_process(tmp_path):
    """No save date, zip times or Python ids in model.keras: DVC sees the same model and reruns nothing after it."""
    paths = [tmp_path / f"{run}.keras" for run in ("first", "second")]
    for path in paths:
        subprocess.run([sys.executable, "-c", SAVE_IN_A_NEW_PROCESS, path], cwd=ROOT, check=True, capture_output=True)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    with zipfile.ZipFile(paths[0]) as bundle:
        assert {entry.date_time for entry in bundle.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert "date_saved" not in json.loads(bundle.read("metadata.json"))
    info = load_model_info(paths[0], load_model(paths[0]))
    assert info.classes == ["red", "green", "blue"] and info.version == starrec.__version__ != "0+unknown"
    assert parse_model_info('{"classes": ["a"], "faces": {}}').version == "unknown"  # a model from before 0.2.0


WEIGHTS_DIGEST = (
    "import hashlib, sys; sys.path.insert(0, 'tests')\n"
    "from helpers.data import fit_arrays, make_tiny_arrays, make_tiny_params\n"
    "model, _ = fit_arrays(make_tiny_params(), *make_tiny_arrays())\n"
    "print(hashlib.sha256(b''.join(w.tobytes() for w in model.get_weights())).hexdigest())\n"
)


@pytest.mark.slow  # four processes that import TensorFlow
@pytest.mark.parametrize(
    "kernels",
    [
        {"TF_ENABLE_ONEDNN_OPTS": "1"},  # starrec's default: oneDNN at this CPU's best instructions
        {"TF_ENABLE_ONEDNN_OPTS": "1", "ONEDNN_MAX_CPU_ISA": "AVX2"},  # as on an AVX2 CPU (no-op on one)
        {"TF_ENABLE_ONEDNN_OPTS": "0"},  # TensorFlow's Eigen kernels
    ],
    ids=["onednn", "onednn-avx2", "eigen"],
)
def test_weights_are_identical_run_to_run_with_each_cpu_kernel_library(kernels):
    """Byte-identical outputs run to run on one machine hold for each kernel library a CPU kind gets."""
    env = {
        key: value for key, value in os.environ.items() if key not in ("TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA")
    }
    runs = [  # two at once: what they compute must not depend on what else the machine does
        subprocess.Popen([sys.executable, "-c", WEIGHTS_DIGEST], cwd=ROOT, env=env | kernels, stdout=subprocess.PIPE)
        for _ in range(2)
    ]
    digests = {process.communicate(timeout=120)[0] for process in runs}
    assert [process.returncode for process in runs] == [0, 0]
    assert len(digests) == 1 and len(digests.pop()) == 65


def test_training_stuck_at_chance_is_said_once_with_its_usual_causes(tiny_params, capsys):
    """Batch 1 with the default alpha sat at chance for 15 epochs without a word (the lecture's batch lesson)."""
    from starrec.train.training import STUCK_AFTER_EPOCHS, DivergenceGuard, stuck_line

    train = dataclasses.replace(tiny_params.train, batch_size=1, learning_rate=0.02)
    line = stuck_line(0.09, 3, 10, train)
    assert line is not None and line.startswith("training accuracy 0.090 after 3 epochs is about chance (1/10")
    assert "train.learning_rate 0.02 too large for train.batch_size 1" in line
    assert stuck_line(0.40, 3, 10, train) is None  # learning: above 1.5 / classes
    guard = DivergenceGuard(train, classes=10)
    for epoch in range(STUCK_AFTER_EPOCHS + 2):
        guard.on_epoch_end(epoch, {"accuracy": 0.1, "loss": 2.3})
    assert capsys.readouterr().err.count("warning: training accuracy 0.100 after 3 epochs") == 1
