"""train.precision: auto picks bfloat16 only where the CPU computes it natively."""

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
