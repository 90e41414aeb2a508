"""make bench: training speed and per-stage memory on generated data -> bench/results.json.

    python bench/run.py [--out bench/results.json] [--memory-images 2000]
                        [--only experiment|lecture|speed|memory|distributed|service|tune]

experiment: `dvc exp run -S train.momentum=0.5` after `make run` in a fresh copy of the project, stage by
stage: wall time, CPU time, peak RSS and whether it loads TensorFlow (bench/experiment.py).

lecture: the lecture's job (10-fold, 20 epochs, 1,000 faces at 140 px) reduced to 2 folds x 3 epochs through
the real fold stage, the full job's hours from it and from a rate alone, and the fold's images/s against a
plain bare step (bench/lecture.py).
speed: the train stage as `dvc repro train` runs it against a plain Keras script's ``model.fit`` and
bare ``tf.function`` step (bench/speed.py, bench/plain_keras.py), for the default network at 32 px
and the lecture's network at 140 px, in float32 and (on a CPU that has it) mixed_bfloat16.
memory: each stage's peak RSS at N and 4N images of 140 px (bench/memory.py).
distributed: images/s on 1 process and on 2 multi_worker processes on 127.0.0.1 (bench/distributed.py).
service: latency of starrec serve, 200 uploads 8 at a time, and a screenshot of its page at
docs/serve-page.png (bench/service.py; needs `dvc repro` first, for the model and photos); service.lean:
cold start, memory, install size and latency of model.keras and model.onnx with the full install and of
model.onnx from a venv with only starrec[serve] (no TensorFlow).
tune: fold trainings, time and best K-fold accuracy of the tune stage without a pruner and with the median
pruner, on the default search space and the digits at 16 px, 5 epochs (bench/pruning.py).
With --only, the other sections of an existing results file are kept.
bench/epoch_phases.py (not part of make bench) shows where one train stage's epoch goes.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import tensorflow as tf

import distributed
import experiment
import lecture
import memory
import pruning
import service
import speed
from starrec.hardware import cpu_description, cpu_has_bfloat16

LECTURE = {
    "model": {"conv_filters": [64, 64], "kernel_size": 5, "dense_units": [384, 192]},
    "train": {"batch_size": 16, "learning_rate": 0.002},
}
"""The lecture's network and the README's 140 px recipe."""
RUNS = {"default_32": ({}, 32, 8), "lecture_140": (LECTURE, 140, 4)}
"""name: (params overrides, image size, epochs)."""
SCREENSHOT = Path("docs/serve-page.png")


def speed_section(scratch: Path) -> dict:
    """float32 everywhere; mixed_bfloat16 where the CPU has native bfloat16 (elsewhere TensorFlow emulates it)."""
    precisions = ["float32", *(["mixed_bfloat16"] if cpu_has_bfloat16() else [])]
    results: dict = {} if cpu_has_bfloat16() else {"mixed_bfloat16": "not run: this CPU has no native bfloat16"}
    for name, (overrides, size, epochs) in RUNS.items():
        for precision in precisions:
            result = speed.measure(overrides, size, epochs, precision, scratch)
            results[f"{name}_{precision}"] = result
            print(name, precision, json.dumps(result), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("bench/results.json"))
    parser.add_argument("--memory-images", type=int, default=2000, help="N of the memory table (4N is run too)")
    sections = ("experiment", "lecture", "speed", "memory", "distributed", "service", "tune")
    parser.add_argument("--only", choices=sections)
    args = parser.parse_args()
    if not Path("/proc/self/stat").is_file():  # experiment and memory sample /proc/<pid>; serving reads VmRSS
        parser.exit(2, "bench/run.py: reads each process's time and memory from /proc: Linux only (not macOS)\n")
    kept = json.loads(args.out.read_text(encoding="utf-8")) if args.only and args.out.is_file() else {}
    results = {
        **kept,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "cpu": cpu_description(),
        "cpu_bfloat16": cpu_has_bfloat16(),
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        if args.only in (None, "experiment"):
            results["experiment"] = experiment.measure(Path(scratch))
            print(experiment.table(results["experiment"]), flush=True)
        if args.only in (None, "lecture"):
            results["lecture"] = lecture.measure(LECTURE, Path(scratch))
            print("lecture", json.dumps(results["lecture"]), flush=True)
        if args.only in (None, "speed"):
            results["speed"] = speed_section(Path(scratch))
        if args.only in (None, "memory"):
            results["memory"] = memory.measure(args.memory_images, 140, Path(scratch))
        if args.only in (None, "distributed"):
            results["distributed"] = distributed.measure()
        if args.only in (None, "service"):
            results["service"] = service.measure(Path("models/model.keras"), 200, 8, SCREENSHOT)
            results["service"]["lean"] = service.lean(200, 8)
        if args.only in (None, "tune"):
            results["tune"] = pruning.measure(Path(scratch))
    results["seconds"] = round(time.perf_counter() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
