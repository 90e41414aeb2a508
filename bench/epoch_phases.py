"""Where a train stage's epoch goes: `python stages/train.py` with timers around its phases.

    python bench/epoch_phases.py        # in a project whose train stage's inputs exist (dvc repro augment)

Times the compiled training epoch, the validation pass and each callback's ``on_epoch_end``
(the first epoch traces the functions, so it is shown apart) and prints one line per phase:
its first epoch and the median of the others, in milliseconds.
"""

from __future__ import annotations

import collections
import runpy
import statistics
import time

import keras

from starrec.train import training

SECONDS: dict[str, list[float]] = collections.defaultdict(list)


def timed(name: str, function):
    def phase(*args, **kwargs):
        started = time.perf_counter()
        result = function(*args, **kwargs).numpy()  # waits for the compiled loop
        SECONDS[name].append(time.perf_counter() - started)
        return result

    return phase


def on_epoch_end(self, epoch, logs=None):
    for callback in self.callbacks:
        started = time.perf_counter()
        callback.on_epoch_end(epoch, logs)
        SECONDS[f"callback {type(callback).__name__}"].append(time.perf_counter() - started)


def main() -> None:
    training._Steps.train_epoch = timed("training steps", training._Steps.train_epoch)
    training._Steps.evaluate = timed("validation", training._Steps.evaluate)
    keras.callbacks.CallbackList.on_epoch_end = on_epoch_end
    runpy.run_path("stages/train.py", run_name="__main__")
    for name, seconds in SECONDS.items():
        rest = f"{statistics.median(seconds[1:]) * 1000:8.1f}" if len(seconds) > 1 else "       -"
        print(f"{name:32s} first epoch {seconds[0] * 1000:8.1f} ms, later epochs (median) {rest} ms")


if __name__ == "__main__":
    main()
