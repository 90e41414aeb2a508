"""Quiet by default: the lines TensorFlow and LiteRT print on every run are dropped, everything else stays.

TensorFlow 2.21 logs through absl before anything initialises absl's logging, so ``TF_CPP_MIN_LOG_LEVEL``
no longer hides its INFO lines (abseil-cpp#1718): ``import tensorflow`` prints the oneDNN note twice, each
after "All log messages before absl::InitializeLog() ...". No library setting reaches them, so
:func:`install` catches the file descriptor 2 while TensorFlow is imported (the first time only, by whichever
module imports it) and writes back every line but :data:`NOISE`. ``STARREC_VERBOSE=1`` keeps them all.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType

NOISE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|[IW]\d{4} [\d:.]+ +\d+ (port|cpu_feature_guard)\.cc:\d+\] .*"
    rb"|To enable the following instructions: .* in other operations, rebuild TensorFlow .*"
    rb"|W\d{4} [\d:.]+ +\d+ tf_tfl_flatbuffer_helpers\.cc:\d+\] Ignored (output_format|drop_control_dependency)\."
    rb"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.)$"
)
"""The lines TensorFlow and LiteRT print on every run: absl's pre-initialisation warning, the oneDNN note
(port.cc) and the CPU-instructions note (cpu_feature_guard.cc) of ``import tensorflow``; the LiteRT
converter's two ignored options; the interpreter's XNNPACK note."""

KNOWN_WARNINGS = (
    # keras/src/export/tf2onnx_lib.py probes ``np.object``, which numpy 2 announces it will redefine
    (r"In the future `np\.object` will be defined", FutureWarning, r"keras"),
    # tune.storage (a database): the heartbeat that hands a killed worker's trial to another, chosen knowingly
    (r"(RetryHeartbeatStaleTrialCallback|Argument ``heartbeat_interval``) is (an )?experimental", Warning, r""),
)
"""(message, category, module) of the Python warnings every run would print: known and harmless."""

QUIET_MODULES = ("tensorflow",)


def verbose() -> bool:
    """``STARREC_VERBOSE`` set to anything but empty or 0: every library line shows."""
    return os.environ.get("STARREC_VERBOSE", "") not in ("", "0")


@contextmanager
def native_stderr_filtered(noise: re.Pattern[bytes] = NOISE) -> Iterator[None]:
    """Hold what C++ and Python write to file descriptor 2 inside the block; write back all but ``noise``
    (everything where :func:`verbose`)."""
    if verbose():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = [line for line in held.read().splitlines(keepends=True) if not noise.match(line.rstrip(b"\r\n"))]
            if kept:
                os.write(2, b"".join(kept))


class _QuietLoader(importlib.abc.Loader):
    """The real loader of a module, run with its start-up lines filtered."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self.loader  # the module's own loader while and after it runs (resources, reload)
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        with native_stderr_filtered():
            self.loader.exec_module(module)


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds :data:`QUIET_MODULES` as Python would, and hands their loading to :class:`_QuietLoader`."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in QUIET_MODULES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def install() -> None:
    """Filter TensorFlow's start-up lines and :data:`KNOWN_WARNINGS` from now on in this process (nothing
    where :func:`verbose`)."""
    if verbose() or any(isinstance(finder, _QuietFinder) for finder in sys.meta_path):
        return
    for message, category, module in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message, category, module)
    sys.meta_path.insert(0, _QuietFinder())
