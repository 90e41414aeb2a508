"""starrec: recognise people in photos with a reproducible DVC + Keras pipeline."""

import os
from importlib.metadata import PackageNotFoundError, version

from starrec import quiet

try:
    __version__ = version("starrec")  # pyproject.toml's, as installed: the one place it is written
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

quiet.install()  # TensorFlow's start-up lines hidden (TF_CPP_MIN_LOG_LEVEL no longer does it); STARREC_VERBOSE=1
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if quiet.verbose() else "1")  # TensorFlow's later C++ INFO lines
# TensorFlow's BFC allocator keeps freed CPU buffers for reuse; the default one returns buffers of over 32 MB to
# the kernel, which zeroes them again for the next step: 1.2-1.5x slower training at 140 px (docs/benchmarks.md).
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")
# TF_ENABLE_ONEDNN_OPTS stays TensorFlow's: oneDNN would train float32 1.2-1.4x faster on AVX2 CPUs, but it has no
# bfloat16 convolution there ("could not create a primitive descriptor"), which mixed_bfloat16 needs
# (docs/benchmarks.md: the experiment loop on each CPU kind). Set it to 1 yourself for float32 on AVX2.
