"""Speed and memory of the pipeline's hot paths on generated data; writes JSON.

python bench/run.py --out bench/results.json [--images 2000] [--size 32]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import tensorflow as tf

from starrec.augment import with_augmented_copies
from starrec.datasets import batches, from_arrays
from starrec.ingest import ingest, write_interim
from starrec.params import parse_params
from starrec.preprocess import normalization_stats
from starrec.records import read_arrays, read_records
from starrec.sources import write_synthetic
from starrec.training import fit


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("bench/results.json"))
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=32)
    args = parser.parse_args()
    params = parse_params({"image": {"size": args.size}, "train": {"epochs": 2}})
    classes = 10
    results = {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "images": args.images,
        "size": args.size,
    }
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        _, seconds = timed(lambda: write_synthetic(scratch / "raw", classes, args.images // classes, seed=0))
        results["generate_png_per_s"] = args.images / seconds
        ingested, seconds = timed(lambda: ingest(scratch / "raw", params.data, params.faces, args.size))
        results["decode_resize_per_s"] = args.images / seconds
        _, seconds = timed(lambda: write_interim(ingested, scratch / "interim", params.image.shard_size))
        results["tfrecord_write_per_s"] = args.images / seconds
        records = scratch / "interim" / "records"
        augmented = batches(with_augmented_copies(read_records(records, args.size), params.augment, 0), 64)
        count, seconds = timed(lambda: sum(int(tf.shape(x)[0]) for x, _ in augmented))
        results["augmented_input_per_s"] = count / seconds
        images, labels, _ = read_arrays(records, args.size)
        stats = normalization_stats([images], params.augment.grayscale)
        examples = read_records(records, args.size)
        train = partial(fit, examples, args.images, classes, stats, params.model, params.train, params.seed, verbose=0)
        train()  # warm-up: tracing and graph building
        _, seconds = timed(train)
        results["train_images_per_s"] = args.images * params.train.epochs / seconds
    lecture = parse_params(
        {
            "image": {"size": 140},
            "model": {"conv_filters": [64, 64], "kernel_size": 5, "dense_units": [384, 192]},
            "train": {"epochs": 1, "batch_size": 16},
        }
    )
    faces = np.stack([np.asarray(tf.image.resize(image, (140, 140)), dtype=np.uint8) for image in images[:64]])
    faces_stats = normalization_stats([faces], True)
    train = partial(
        fit,
        from_arrays(faces, labels[:64]),
        64,
        classes,
        faces_stats,
        lecture.model,
        lecture.train,
        lecture.seed,
        verbose=0,
    )
    train()  # warm-up
    _, seconds = timed(train)
    results["train_images_per_s_lecture_140"] = 64 / seconds
    results["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results = {key: round(value, 1) if isinstance(value, float) else value for key, value in results.items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
