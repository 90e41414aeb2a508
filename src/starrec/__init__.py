"""starrec: recognise people in photos with a reproducible DVC + Keras pipeline."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # hide TensorFlow's C++ info lines; warnings and errors still show
