"""make bench: training speed and per-stage memory on generated data -> bench/results.json.

    python bench/run.py [--out bench/results.json] [--memory-images 2000] [--only speed|memory]

speed: the project's training path against plain Keras ``model.fit`` and a
bare ``tf.function`` step (bench/speed.py), for the default network at 32 px
and the lecture's network at 140 px, at every ``train.precision``.
memory: each stage's peak RSS at N and 4N images of 140 px (bench/memory.py).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

import memory
import speed
from starrec.params import TrainParams, parse_params
from starrec.sources import synthetic_image

PRECISIONS = TrainParams.__dataclass_fields__["precision"].metadata["choices"]
NETWORKS = {
    "default_32": ({}, 32, 2048, 4),
    "lecture_140": (
        {"model": {"conv_filters": [64, 64], "kernel_size": 5, "dense_units": [384, 192]}, "train": {"batch_size": 16}},
        140,
        192,
        3,
    ),
}
"""name: (params overrides, image size, images, epochs)."""


def speed_section(scratch: Path) -> dict:
    results = {}
    for name, (overrides, size, n_images, epochs) in NETWORKS.items():
        rng = np.random.default_rng(0)
        labels = np.arange(n_images, dtype=np.int64) % 5
        images = np.stack([synthetic_image(int(c), 5, rng, size=size) for c in labels])
        for precision in PRECISIONS:
            raw = {**overrides, "image": {"size": size}}
            raw["train"] = {**overrides.get("train", {}), "epochs": epochs, "precision": precision}
            results[f"{name}_{precision}"] = speed.measure(parse_params(raw), images, labels, 5, scratch)
            print(name, precision, json.dumps(results[f"{name}_{precision}"]), flush=True)
    return results


def cpu() -> dict:
    """The CPU's model name and whether it computes bfloat16 natively (avx512_bf16 or amx_bf16)."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    fields = {
        key.strip(): value.strip() for key, value in (line.split(":", 1) for line in info.splitlines() if ":" in line)
    }
    flags = fields.get("flags", "").split()
    return {"model": fields.get("model name", ""), "bfloat16": "avx512_bf16" in flags or "amx_bf16" in flags}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("bench/results.json"))
    parser.add_argument("--memory-images", type=int, default=2000, help="N of the memory table (4N is run too)")
    parser.add_argument("--only", choices=("speed", "memory"))
    args = parser.parse_args()
    results = {"python": platform.python_version(), "tensorflow": tf.__version__, "cpu": cpu()}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        if args.only in (None, "speed"):
            results["speed"] = speed_section(Path(scratch))
        if args.only in (None, "memory"):
            results["memory"] = memory.measure(args.memory_images, 140, Path(scratch))
    results["seconds"] = round(time.perf_counter() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
