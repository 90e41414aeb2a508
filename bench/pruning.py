"""How many fold trainings the pruner saves: the tune stage (`dvc repro tune/dvc.yaml:tune`, as users run it) on
the default search space, with tune.pruner none and then median, each in its own copy of the project, on the
default data made cheaper to train (the digits at 16 px, 5 epochs; generated photos are too easy: every trial
scores 1.0 and nothing is pruned)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from speed import project_copy
from starrec.params import Params

PRUNERS = ("none", "median")


def measure(scratch: Path) -> dict:
    """Per pruner: wall seconds of the stage, fold trainings, trials, pruned, best K-fold accuracy; and what
    median saved against none."""
    results: dict = {}
    for pruner in PRUNERS:
        repo = project_copy(scratch / f"tune-{pruner}")
        params = dataclasses.asdict(Params())
        params["image"]["size"], params["train"]["epochs"] = 16, 5
        params["tune"]["pruner"] = pruner
        (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        started = time.perf_counter()
        done = subprocess.run(["dvc", "repro", "tune/dvc.yaml:tune"], cwd=repo, env=env, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"tune.pruner {pruner}: dvc repro failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
        seconds = time.perf_counter() - started
        tune = json.loads((repo / "metrics" / "tune.json").read_text(encoding="utf-8"))
        results[pruner] = {
            "seconds": round(seconds, 1),
            "fold_trainings": tune["fold_trainings"],
            "trials": tune["trials"],
            "pruned": tune["pruned"],
            "best_accuracy": tune["best_accuracy"],
            "best_params": tune["best_params"],
        }
        print("tune", pruner, json.dumps(results[pruner]), flush=True)
    none, median = results["none"], results["median"]
    results["median_saves_fold_trainings"] = none["fold_trainings"] - median["fold_trainings"]
    results["median_saves_fraction"] = round(1 - median["fold_trainings"] / none["fold_trainings"], 3)
    return results
