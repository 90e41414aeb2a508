"""train.precision: auto picks bfloat16 only where the CPU computes it natively."""

import os
import subprocess
import sys

import pytest

from starrec import hardware


@pytest.mark.parametrize(
    "flags, expected",
    [("fpu sse avx2", "float32"), ("fpu avx512f avx512_bf16", "mixed_bfloat16"), ("amx_bf16", "mixed_bfloat16")],
)
def test_auto_follows_the_cpu_flags(monkeypatch, flags, expected):
    monkeypatch.setattr(hardware, "cpu_info", lambda: {"flags": flags})
    assert hardware.resolve_precision("auto") == expected
    assert hardware.resolve_precision("mixed_float16") == "mixed_float16"  # an explicit choice stays


def test_cpuinfo_fields_of_the_first_processor():
    text = "processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu avx512_bf16\n\nprocessor\t: 1\nflags\t\t: fpu\n"
    assert hardware.parse_cpuinfo(text) == {"processor": "0", "model name": "Some CPU", "flags": "fpu avx512_bf16"}


@pytest.mark.slow  # a new process that imports TensorFlow: make test, not make test-fast
@pytest.mark.parametrize("users, expected", [(None, "true"), ("false", "false")])
def test_starrec_picks_tensorflows_bfc_cpu_allocator_unless_the_user_chose(users, expected):
    """The default allocator gives big buffers back to the kernel every step: 1.2-1.5x slower at 140 px."""
    env = {name: value for name, value in os.environ.items() if name != "TF_CPU_ALLOCATOR_USE_BFC"}
    if users is not None:
        env["TF_CPU_ALLOCATOR_USE_BFC"] = users
    code = "import os, starrec.train.training; print(os.environ['TF_CPU_ALLOCATOR_USE_BFC'])"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == expected
