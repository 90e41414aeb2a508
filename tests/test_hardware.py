"""train.precision: auto picks bfloat16 only where the CPU computes it natively."""

import os
import subprocess
import sys

import pytest

from starrec import hardware
from starrec.errors import StarrecError


@pytest.mark.parametrize(
    "flags, expected",
    [("fpu sse avx2", "float32"), ("fpu avx512f avx512_bf16", "mixed_bfloat16"), ("amx_bf16", "mixed_bfloat16")],
)
def test_auto_follows_the_cpu_flags(monkeypatch, flags, expected):
    monkeypatch.delenv(hardware.AUTO_PRECISION, raising=False)  # make test-other-cpu sets it
    monkeypatch.setattr(hardware, "cpu_info", lambda: {"flags": flags})
    assert hardware.resolve_precision("auto") == expected
    assert hardware.resolve_precision("mixed_float16") == "mixed_float16"  # an explicit choice stays


@pytest.mark.parametrize("pinned", ["float32", "mixed_bfloat16"])
@pytest.mark.parametrize("flags", ["fpu avx2", "avx512f avx512_bf16"])
def test_auto_can_be_pinned_to_run_as_the_other_cpu_kind(monkeypatch, flags, pinned):
    monkeypatch.setattr(hardware, "cpu_info", lambda: {"flags": flags})
    monkeypatch.setenv(hardware.AUTO_PRECISION, pinned)
    assert hardware.resolve_precision("auto") == pinned
    assert hardware.resolve_precision("float32") == "float32"


def test_a_bad_pinned_precision_is_one_line_naming_the_variable(monkeypatch):
    monkeypatch.setenv(hardware.AUTO_PRECISION, "bf16")
    with pytest.raises(StarrecError, match=r"^STARREC_AUTO_PRECISION='bf16': allowed float32, mixed_bfloat16"):
        hardware.resolve_precision("auto")


@pytest.mark.parametrize(
    "flags, by_default",
    [("fpu avx2 fma", False), ("avx2 avx512f avx512_vnni", True), ("avx2 avx_vnni", True), ("amx_tile", True)],
)
def test_onednn_default_follows_tensorflows_rule(monkeypatch, flags, by_default):
    monkeypatch.setattr(hardware, "cpu_info", lambda: {"flags": flags})
    monkeypatch.setattr(hardware.sys, "platform", "linux")
    assert hardware.onednn_by_default() == by_default
    monkeypatch.delenv(hardware.ONEDNN, raising=False)
    assert hardware.onednn_on() == by_default
    monkeypatch.setenv(hardware.ONEDNN, "0" if by_default else "1")
    assert hardware.onednn_on() != by_default


@pytest.mark.parametrize(
    "flags, onednn, other",
    [
        ("fpu avx2", "1", {"TF_ENABLE_ONEDNN_OPTS": "0", "STARREC_AUTO_PRECISION": "mixed_bfloat16"}),
        # AVX2 without oneDNN: oneDNN would have no bfloat16 convolution, so it stays off
        ("fpu avx2", "0", {"TF_ENABLE_ONEDNN_OPTS": "0", "STARREC_AUTO_PRECISION": "mixed_bfloat16"}),
        ("avx512f avx512bw", "0", {"TF_ENABLE_ONEDNN_OPTS": "1", "STARREC_AUTO_PRECISION": "mixed_bfloat16"}),
        ("avx512_vnni avx512_bf16", "0", {"TF_ENABLE_ONEDNN_OPTS": "1", "STARREC_AUTO_PRECISION": "float32"}),
    ],
)
def test_the_other_cpu_kind_flips_onednn_and_auto(monkeypatch, flags, onednn, other):
    monkeypatch.setattr(hardware, "cpu_info", lambda: {"flags": flags})
    monkeypatch.delenv(hardware.AUTO_PRECISION, raising=False)
    monkeypatch.setenv(hardware.ONEDNN, onednn)
    assert hardware.other_kind() == other


@pytest.mark.parametrize(
    "info, machine, described",
    [
        ({"model name": "AMD EPYC 7B13", "flags": "fpu avx2"}, "x86_64", "AMD EPYC 7B13 (AVX2)"),
        ({"model name": "Intel Xeon", "flags": "avx2 avx512_bf16 amx_bf16"}, "x86_64", "Intel Xeon (AMX)"),
        ({"model name": "Apple M2"}, "arm64", "Apple M2"),  # macOS: sysctl's brand string
        ({"Features": "fp asimd bf16", "CPU part": "0xd40"}, "aarch64", "aarch64 CPU"),  # Linux on Arm
    ],
)
def test_the_cpu_is_named_on_each_system(monkeypatch, info, machine, described):
    monkeypatch.setattr(hardware, "cpu_info", lambda: info)
    monkeypatch.setattr(hardware.platform, "machine", lambda: machine)
    assert hardware.cpu_description() == described


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
