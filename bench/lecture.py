"""The lecture's job, reduced and measured end to end through the real fold stage.

The lecture's job is 10-fold cross validation with 20 epochs on 1,000 faces at 140 px. Here, in a copy of the
project: 1,000 generated photos (5 classes), the default split (800 for train + val) and one augmented copy,
the lecture's network at 140 px (the README's recipe: batch 16, learning rate 0.002), ``kfold.k: 10`` in five
parts, 3 epochs, ``train.precision: auto``; ``dvc repro fold@0`` prepares the data and trains part 0: folds 0
and 5, each on 720 photos and their copies, 1,440 images an epoch, exactly as a fold of the full job.

From the times of the fold stage's progress lines (``epoch E/3, ..., R images/s`` at each epoch's end):

- ``fold_stage_s``: the stage's wall time; ``start_s``: its part before the first fold (TensorFlow's import,
  the records' labels); ``fold_s``: each fold's seconds (statistics, model, epochs, predictions);
- ``epoch_s``: each fold's epochs, the first from the fold's start (so with its set-up and tracing);
  ``images_per_s``: the median of the rates the epochs after each fold's first reported;
- ``job_h``: the full job from the measured parts: 5 stage starts and 10 folds, each as measured plus
  17 more epochs at ``images_per_s``;
- ``projection_h``: what docs/benchmarks.md projects from a rate alone, 10 x 20 x 1,440 images at
  ``images_per_s``; ``projection_vs_job``: their ratio (1.0: the rate alone predicts the job);
- ``bare_step_images_per_s``: bench/plain_keras.py's bare ``tf.function`` step on the same photos, network and
  precision (no project code, no validation; a fold does not validate either), and the fold's rate against it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import statistics
import sys
from pathlib import Path

import yaml

from speed import CLASSES, PER_CLASS, UNBUFFERED, plain_rate, project_copy, stage_params, timed_lines
from starrec.hardware import resolve_precision
from starrec.params import Params

K, PARTS, EPOCHS, JOB_EPOCHS = 10, 5, 3, 20
TRAINED = [fold for fold in range(K) if fold % PARTS == 0]
EPOCH_LINE = re.compile(r"epoch (\d+)/\d+, loss \S+, ([\d.]+) images/s")
FOLD_DONE = re.compile(r"\| (\d+)/\d+ \[")


def lecture_params(lecture: dict) -> dict:
    """The schema's defaults with the bench's photos, the lecture's network at 140 px and the reduced K-fold."""
    params = stage_params(lecture, 140, EPOCHS, "auto")
    defaults = dataclasses.asdict(Params())
    params["split"], params["augment"] = defaults["split"], defaults["augment"]  # 800 train + val, one copy
    params["kfold"].update(k=K, parts=list(range(PARTS)))
    return params


def progress(lines: list[tuple[float, str]]) -> tuple[list[float], list[list[tuple[float, float]]]]:
    """When each fold started (and the last ended), and each fold's (epoch end, images/s) from the fold stage's
    progress bar (its ``\\r`` updates arrive as lines)."""
    starts: list[float] = []
    epochs: list[list[tuple[float, float]]] = []
    for when, line in lines:
        done = FOLD_DONE.search(line)
        if done and int(done[1]) == len(starts):  # the bar's first line, then each finished fold
            starts.append(when)
            epochs.append([])
        match = EPOCH_LINE.search(line)
        if match and epochs and int(match[1]) == len(epochs[-1]) + 1:  # not the last fold's epoch, still shown
            epochs[-1].append((when, float(match[2])))
    return starts, epochs[: len(starts) - 1]


def epoch_seconds(start: float, ends: list[float]) -> list[float]:
    """Each epoch's seconds from the times its fold started and its epochs ended."""
    return [round(end - begin, 1) for begin, end in zip([start, *ends[:-1]], ends, strict=True)]


def measure(lecture: dict, scratch: Path) -> dict:
    """The reduced job's numbers (module docstring); the copy is removed at the end."""
    params = lecture_params(lecture)
    precision = resolve_precision("auto")
    repo = project_copy(scratch / "lecture", params=yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **UNBUFFERED}
    lines = timed_lines(["dvc", "repro", "fold@0"], repo, env, repo / "lecture.log")
    stage_started = next(when for when, line in lines if line.startswith("Running stage 'fold@0'"))
    starts, epochs = progress([(when, line) for when, line in lines if when >= stage_started])
    if len(epochs) != len(TRAINED) or any(len(fold) != EPOCHS for fold in epochs):
        raise RuntimeError(f"expected {len(TRAINED)} folds of {EPOCHS} epochs in {repo / 'lecture.log'}")
    photos = CLASSES * PER_CLASS * (1 - params["split"]["test"]) * (K - 1) / K
    images = round(photos) * (params["augment"]["copies"] + 1)
    rate = statistics.median(rate for fold in epochs for _, rate in fold[1:])
    fold_s = [end - start for start, end in zip(starts, starts[1:], strict=False)]
    epoch_s = [epoch_seconds(start, [when for when, _ in fold]) for start, fold in zip(starts, epochs, strict=False)]
    stage_s, start_s = lines[-1][0] - stage_started, starts[0] - stage_started
    job_s = PARTS * start_s + K * (statistics.mean(fold_s) + (JOB_EPOCHS - EPOCHS) * images / rate)
    projection_s = K * JOB_EPOCHS * images / rate
    bare = plain_rate(repo, params | {"train": params["train"] | {"precision": precision}}, round(photos),
                      bare_step=True, allocator="true")  # fmt: skip
    shutil.rmtree(repo)
    return {
        "job": f"{K}-fold x {JOB_EPOCHS} epochs on {CLASSES * PER_CLASS} generated faces, 140 px, lecture network",
        "measured": f"folds {TRAINED} x {EPOCHS} epochs: dvc repro fold@0 of kfold.parts {list(range(PARTS))}",
        "precision": precision,
        "images_per_epoch": images,
        "fold_stage_s": round(stage_s, 1),
        "start_s": round(start_s, 1),
        "fold_s": [round(seconds, 1) for seconds in fold_s],
        "epoch_s": epoch_s,
        "images_per_s": round(rate, 1),
        "job_h": round(job_s / 3600, 2),
        "projection_h": round(projection_s / 3600, 2),
        "projection_vs_job": round(projection_s / job_s, 3),
        "bare_step_images_per_s": bare,
        "fold_vs_bare_step": round(rate / bare, 3),
    }
