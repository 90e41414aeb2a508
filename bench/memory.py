"""Peak memory of every stage, each run as `dvc repro` runs it: its own process, in a repo folder.

Generated images (``data.source: synthetic``) at ``image.size`` 140, for N and
4N images; one epoch, 2 folds and ``runtime.cache: none``, so that the numbers
show the streaming design (``auto`` would cache up to
:data:`starrec.data.datasets.CACHE_IN_MEMORY_UP_TO` bytes of pixels on purpose).
The peak is the process's high-water resident set size, ``VmHWM`` of
``/proc/<pid>/status``, read every 20 ms while it runs. (``ru_maxrss`` from
``wait4`` would not do: Linux carries the parent's high-water mark over
``fork`` and ``exec``, so every stage would report the benchmark's own peak.)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGES = (
    "download",
    "convert",
    "split",
    "augment",
    "train",
    "fold@0",
    "kfold",
    "evaluate",
    "baseline",
    "export",
    "visualize",
)
"""fold@0 is the one part of the K-fold stages here (kfold.parts: [0]): it trains both folds."""
CLASSES = 10


def _params(images: int, size: int) -> dict:
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["data"].update(source="synthetic", synthetic_classes=CLASSES, synthetic_per_class=images // CLASSES)
    params["image"]["size"] = size
    params["train"]["epochs"], params["runtime"]["cache"] = 1, "none"
    params["kfold"].update(k=2, parts=[0])
    return params


def high_water_mib(process: subprocess.Popen, log: Path) -> float:
    """Wait for ``process``; its largest VmHWM seen, in MiB (raises if it failed)."""
    peak = 0.0
    while process.poll() is None:
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
        except OSError:
            break
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]) / 1024)
        time.sleep(0.02)
    if process.wait() != 0:
        raise RuntimeError(f"{' '.join(process.args)} failed; see {log}")
    return round(peak, 1)


def stage_peaks(images: int, size: int, scratch: Path) -> dict[str, float]:
    """Peak RSS in MiB of each stage on ``images`` generated images of ``size`` pixels."""
    repo = scratch / f"memory-{images}"
    shutil.copytree(ROOT / "stages", repo / "stages")
    (repo / "params.yaml").write_text(yaml.safe_dump(_params(images, size), sort_keys=False), encoding="utf-8")
    peaks = {}
    for stage in STAGES:
        with open(repo / f"{stage}.log", "w") as log:
            script, *arguments = stage.split("@")
            command = [sys.executable, f"stages/{script}.py", *arguments]
            process = subprocess.Popen(command, cwd=repo, stdout=log, stderr=log)
            peaks[stage] = high_water_mib(process, repo / f"{stage}.log")
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
