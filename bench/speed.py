"""Training speed as a user feels it: the train stage run by `dvc repro train` against plain Keras scripts.

For one network, image size and precision, on the same generated photos
(``data.source: synthetic``, 5 classes; 720 training and 120 validation images):

- ``stage``: ``dvc repro train`` in a copy of the project. An epoch's seconds are
  the time between two of its ``epoch N/E`` lines: training, validation, dvclive,
  the backup, every callback.
- ``plain_fit``: ``bench/plain_keras.py`` (no project code): ``model.fit`` with
  validation each epoch, run as a user's script runs, with TensorFlow's default
  CPU allocator.
- ``plain_fit_bfc``: the same with ``TF_CPU_ALLOCATOR_USE_BFC=true``, the allocator
  the stage sets (``starrec/__init__.py``).
- ``plain_bare_step``: ``bench/plain_keras.py --bare-step``: a ``tf.function`` step
  over ready batches, no validation, with the BFC allocator (the fastest plain path).

images/s = training images / the median of the epochs' seconds after the first
(the first traces the functions).
"""

from __future__ import annotations

import codecs
import dataclasses
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

from starrec.params import Params  # the set-up of the stage's copy; plain_keras.py imports no project code

ROOT = Path(__file__).resolve().parents[1]
PLAIN = ROOT / "bench" / "plain_keras.py"
CLASSES, PER_CLASS = 5, 200
SPLIT = {"train": 0.72, "val": 0.12, "test": 0.16}
"""720 training and 120 validation images of 1,000."""
ALLOCATOR = "TF_CPU_ALLOCATOR_USE_BFC"
UNBUFFERED = {"PYTHONUNBUFFERED": "1"}
"""Each line as it is printed: its time is the epoch's end."""


def project_copy(target: Path, params: str | None = None) -> Path:
    """The project's files (those git would add), committed in a new git repository at ``target``; with
    ``params``, that params.yaml (else none: the caller writes it)."""
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.splitlines()  # fmt: skip
    for name in names:
        if (ROOT / name).is_file() and name not in ("dvc.lock", "params.yaml"):
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    if params is not None:
        (target / "params.yaml").write_text(params, encoding="utf-8")
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "project"]):  # dvclive needs a commit
        subprocess.run(["git", *command], cwd=target, check=True)
    return target


def stage_params(overrides: dict, size: int, epochs: int, precision: str) -> dict:
    """The schema's defaults with the case's network and these photos."""
    params = dataclasses.asdict(Params())
    params["data"].update(source="synthetic", synthetic_classes=CLASSES, synthetic_per_class=PER_CLASS)
    params["image"]["size"] = size
    params["split"].update(SPLIT)
    params["augment"]["copies"] = 0
    params["model"].update(overrides.get("model", {}))
    params["train"].update(overrides.get("train", {}), epochs=epochs, precision=precision)
    return params


def timed_lines(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> list[tuple[float, str]]:
    r"""Run ``command``; each line of its output with the time its first character arrived (raises if it failed).

    A line ends at ``\n`` or ``\r``: a progress bar writes ``\r`` + its text at each update, and a text stream
    would hand that text over only at the next update (it waits to see whether ``\n`` follows the ``\r``).
    """
    lines: list[tuple[float, str]] = []
    text, since = "", 0.0
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    with open(log, "wb") as record:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert process.stdout is not None
        while chunk := os.read(process.stdout.fileno(), 1 << 16):
            now = time.perf_counter()
            record.write(chunk)
            record.flush()
            for piece in re.split(r"([\r\n])", decoder.decode(chunk)):
                if piece in ("\r", "\n"):
                    if text:
                        lines.append((since, text))
                    text = ""
                elif piece:
                    text, since = text + piece, since if text else now
        if text:
            lines.append((since, text))
    if process.wait() != 0:
        raise RuntimeError(f"{' '.join(command)} failed; see {log}")
    return lines


def rate(images: int, epoch_seconds: list[float]) -> float:
    return round(images / statistics.median(epoch_seconds[1:]), 2)


def stage_rate(repo: Path, params: dict) -> tuple[float, int]:
    """images/s of ``dvc repro train`` with ``params``, and its training images."""
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **UNBUFFERED}
    lines = timed_lines(["dvc", "repro", "train"], repo, env, repo / "stage.log")
    ends = [when for when, line in lines if re.match(r"epoch \d+/\d+:", line)]
    images = int(next(re.search(r"training on (\d+) images", line)[1] for _, line in lines if "training on" in line))
    first = next(when for when, line in lines if "training on" in line)
    return rate(images, [b - a for a, b in itertools.pairwise([first, *ends])]), images


def plain_rate(repo: Path, params: dict, images: int, bare_step: bool, allocator: str) -> float:
    """images/s of bench/plain_keras.py on the copy's photos (data/raw) with the stage's network and counts."""
    model, train = params["model"], params["train"]
    total = CLASSES * PER_CLASS
    command = [
        sys.executable, str(PLAIN), "data/raw", "--size", str(params["image"]["size"]), "--train", str(images),
        "--val", str(round(total * SPLIT["val"])), "--epochs", str(train["epochs"]),
        "--precision", train["precision"], "--filters",
        *map(str, model["conv_filters"]), "--kernel", str(model["kernel_size"]), "--dense",
        *map(str, model["dense_units"]), "--batch", str(train["batch_size"]), "--learning-rate",
        str(train["learning_rate"]), *(["--bare-step"] if bare_step else []),
    ]  # fmt: skip
    env = {name: value for name, value in os.environ.items() if name != ALLOCATOR} | {ALLOCATOR: allocator}
    lines = timed_lines(command, repo, env, repo / "plain.log")
    result = json.loads(lines[-1][1])
    return rate(result["images"], result["epoch_seconds"])


def measure(overrides: dict, size: int, epochs: int, precision: str, scratch: Path) -> dict:
    """The four paths' images/s and the stage's ratio to each plain one."""
    repo = project_copy(scratch / f"speed-{size}-{precision}")
    params = stage_params(overrides, size, epochs, precision)
    stage, images = stage_rate(repo, params)
    rates = {
        "stage": stage,
        "plain_fit": plain_rate(repo, params, images, bare_step=False, allocator="false"),
        "plain_fit_bfc": plain_rate(repo, params, images, bare_step=False, allocator="true"),
        "plain_bare_step": plain_rate(repo, params, images, bare_step=True, allocator="true"),
    }
    shutil.rmtree(repo)
    return {
        "images": images,
        "epochs": epochs,
        "images_per_s": rates,
        **{f"stage_vs_{name}": round(stage / value, 3) for name, value in rates.items() if name != "stage"},
    }
