"""Training speed of train.distribute: one process against two multi_worker processes on 127.0.0.1.

    python bench/distributed.py            # both networks, 1 and 2 workers -> JSON on stdout

Every worker is a real process (``python bench/distributed.py --worker ...``) with
``TF_CONFIG``; the chief reports images/s of the whole cluster (global batch =
``train.batch_size``), the median over the epochs after the first.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from serving import free_port

RUNS = {
    "default_32": ({}, 32, 2048, 4),
    "lecture_140": (
        {"model": {"conv_filters": [64, 64], "kernel_size": 5, "dense_units": [384, 192]}, "train": {"batch_size": 16}},
        140,
        128,
        3,
    ),
}
"""name: (params overrides, image size, images, epochs); float32, so that any CPU compares."""


def worker(name: str, mode: str, out: Path) -> None:
    """One training process: trains RUNS[name] under ``mode``; the chief writes its images/s to ``out``."""
    from speed import EpochTimes, _rate, synthetic_set
    from starrec.params import parse_params
    from starrec.train.distribute import is_chief, make_strategy
    from starrec.train.preprocess import normalization_stats
    from starrec.train.training import RunOptions, TrainingData, fit

    strategy = make_strategy(mode)
    overrides, size, n_images, epochs = RUNS[name]
    params = parse_params(
        {
            **overrides,
            "image": {"size": size},
            "train": {**overrides.get("train", {}), "epochs": epochs, "precision": "float32"},
        }
    )
    images, labels = synthetic_set(n_images, size)
    import tensorflow as tf

    examples = tf.data.Dataset.from_tensor_slices(
        {"image": images, "label": labels, "id": tf.strings.as_string(tf.range(n_images))}
    )
    times = EpochTimes()
    stats = normalization_stats([images], params.augment.grayscale)
    data = TrainingData(examples, n_images, 5, stats)
    fit(data, params.model, params.train, params.seed, RunOptions(callbacks=[times], verbose=0, strategy=strategy))
    if is_chief(strategy):
        out.write_text(json.dumps({"images_per_s": round(_rate(n_images, times.seconds), 2)}))


def run(name: str, workers: int, scratch: Path) -> float:
    """images/s of RUNS[name] on ``workers`` processes (1: train.distribute none)."""
    out = scratch / f"{name}-{workers}.json"
    command = [sys.executable, __file__, "--worker", name]
    if workers == 1:
        subprocess.run([*command, "none", out], check=True, capture_output=True)
    else:
        cluster = {"worker": [f"127.0.0.1:{free_port()}" for _ in range(workers)]}
        processes = [
            subprocess.Popen(
                [*command, "multi_worker", out],
                env={
                    **os.environ,
                    "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}),
                },
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for i in range(workers)
        ]
        for process in processes:
            _, errors = process.communicate(timeout=1800)
            if process.returncode:
                raise RuntimeError(errors.decode()[-2000:])
    return json.loads(out.read_text())["images_per_s"]


def measure() -> dict:
    """For each network: images/s on 1 and 2 workers, and the speed-up."""
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name in RUNS:
            one, two = run(name, 1, Path(scratch)), run(name, 2, Path(scratch))
            results[name] = {"images_per_s": {"1_worker": one, "2_workers": two}, "speedup": round(two / one, 3)}
            print(name, json.dumps(results[name]), flush=True)
    return results


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", nargs=3, metavar=("RUN", "MODE", "OUT"))
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], Path(args.worker[2]))
    else:
        print(json.dumps(measure(), indent=2))
