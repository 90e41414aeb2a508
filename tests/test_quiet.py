"""Quiet by default: the lines TensorFlow and LiteRT print on every run are dropped, nothing else is, and
STARREC_VERBOSE=1 brings them back."""

import os
import subprocess
import sys

import pytest

IMPORT_TENSORFLOW = "import starrec, keras, tensorflow as tf; print(int(tf.constant(2) + 1))"


def python(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if key not in ("STARREC_VERBOSE", "TF_CPP_MIN_LOG_LEVEL")}
    return subprocess.run([sys.executable, "-c", code], env=clean | env, capture_output=True, text=True, check=True)


def test_importing_tensorflow_prints_nothing():
    done = python(IMPORT_TENSORFLOW)
    assert (done.stdout, done.stderr) == ("3\n", "")


def test_verbose_brings_tensorflows_lines_back():
    assert "oneDNN custom operations are on" in python(IMPORT_TENSORFLOW, STARREC_VERBOSE="1").stderr


NOISY = (
    "I0000 00:00:1796435877.933286    4294 port.cc:153] oneDNN custom operations are on. You may see\n"
    "a real problem\n"
    "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
)


@pytest.mark.parametrize("verbose, shown", [("", "a real problem\n"), ("1", NOISY)])
def test_only_the_known_lines_are_dropped(tmp_path, verbose, shown):
    (tmp_path / "noisy.txt").write_text(NOISY)
    code = (
        "import os, pathlib\n"
        "from starrec.quiet import native_stderr_filtered\n"
        "with native_stderr_filtered():\n"
        f"    os.write(2, pathlib.Path({str(tmp_path / 'noisy.txt')!r}).read_bytes())\n"
    )
    assert python(code, STARREC_VERBOSE=verbose).stderr == shown


def test_a_known_python_warning_is_filtered_and_others_are_not():
    module = "'keras.src.export.tf2onnx_lib'"
    code = (
        "import starrec, warnings\n"
        f"warnings.warn_explicit('In the future `np.object` will be defined as', FutureWarning, 'x.py', 1, {module})\n"
        f"warnings.warn_explicit('something else', FutureWarning, 'x.py', 1, {module})\n"
    )
    stderr = python(code).stderr
    assert "np.object" not in stderr and "something else" in stderr
