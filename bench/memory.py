"""Peak memory of every stage, each run as `dvc repro` runs it: its own process, in a repo folder.

Generated images (``data.source: synthetic``) at ``image.size`` 140, for N and
4N images; one epoch, 2 folds and ``train.cache: none``, so that the numbers
show the streaming design (``auto`` would cache up to
:data:`starrec.datasets.CACHE_IN_MEMORY_UP_TO` bytes of pixels on purpose).
The peak is the process's maximum resident set size (``os.wait4``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("download", "convert", "split", "augment", "train", "kfold", "evaluate", "visualize")
CLASSES = 10


def _params(images: int, size: int) -> dict:
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["data"].update(source="synthetic", synthetic_classes=CLASSES, synthetic_per_class=images // CLASSES)
    params["image"]["size"] = size
    params["train"].update(epochs=1, cache="none")
    params["kfold"]["k"] = 2
    return params


def stage_peaks(images: int, size: int, scratch: Path) -> dict[str, float]:
    """Peak RSS in MiB of each stage on ``images`` generated images of ``size`` pixels."""
    repo = scratch / f"memory-{images}"
    shutil.copytree(ROOT / "stages", repo / "stages")
    (repo / "params.yaml").write_text(yaml.safe_dump(_params(images, size), sort_keys=False), encoding="utf-8")
    peaks = {}
    for stage in STAGES:
        with open(repo / f"{stage}.log", "w") as log:
            process = subprocess.Popen([sys.executable, f"stages/{stage}.py"], cwd=repo, stdout=log, stderr=log)
            _, status, usage = os.wait4(process.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"stage {stage} failed; see {repo / f'{stage}.log'}")
        peaks[stage] = round(usage.ru_maxrss / 1024, 1)
    shutil.rmtree(repo)
    return peaks


def measure(n: int, size: int, scratch: Path) -> dict:
    """The peaks at N and 4N images and their ratio per stage (goal: at most 1.25)."""
    small, large = stage_peaks(n, size, scratch), stage_peaks(4 * n, size, scratch)
    return {
        "image_size": size,
        "images": [n, 4 * n],
        "peak_rss_mib": {stage: [small[stage], large[stage]] for stage in STAGES},
        "ratio_4n_to_n": {stage: round(large[stage] / small[stage], 3) for stage in STAGES},
    }
