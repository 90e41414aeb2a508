"""starrec: recognise people in photos with a reproducible DVC + Keras pipeline."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ log lines drown the stage output
