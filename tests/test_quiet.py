"""Quiet by default: the lines TensorFlow and LiteRT print on every run are dropped, nothing else is, and
STARREC_VERBOSE=1 brings them back."""

import os
import subprocess
import sys

import pytest

IMPORT_TENSORFLOW = "import starrec, keras, tensorflow as tf; print(int(tf.constant(2) + 1))"


def python(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        key: value
        for key, value in os.environ.items()
        if key not in ("STARREC_VERBOSE", "TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")
    }
    return subprocess.run([sys.executable, "-c", code], env=clean | env, capture_output=True, text=True, check=True)


ONEDNN_NOTE = "oneDNN custom operations are on"


@pytest.mark.parametrize("onednn", ["1", "0"])  # TensorFlow prints other lines with oneDNN on and off
def test_importing_tensorflow_prints_nothing(onednn):
    done = python(IMPORT_TENSORFLOW, TF_ENABLE_ONEDNN_OPTS=onednn)
    assert (done.stdout, done.stderr) == ("3\n", "")


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS's TensorFlow is built without oneDNN")
@pytest.mark.parametrize("onednn", ["1", "0"])
def test_verbose_brings_tensorflows_lines_back(onednn):
    """Each CPU kind's variant, whatever this CPU is: TensorFlow turns oneDNN on by itself only on some CPUs
    (starrec.hardware.onednn_by_default), and prints its note only then."""
    stderr = python(IMPORT_TENSORFLOW, STARREC_VERBOSE="1", TF_ENABLE_ONEDNN_OPTS=onednn).stderr
    assert (ONEDNN_NOTE in stderr) == (onednn == "1")


def test_starrec_leaves_tensorflows_onednn_switch_alone():
    """oneDNN on an AVX2 CPU has no bfloat16 convolution: starrec must not turn it on there (docs/benchmarks.md)."""
    code = "import os, starrec; print(os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset'))"
    assert python(code).stdout == "unset\n"


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
