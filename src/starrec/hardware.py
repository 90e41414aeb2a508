"""What this machine computes fast: ``train.precision: auto`` picks bfloat16 where the CPU has it."""

from __future__ import annotations

from functools import cache
from pathlib import Path

BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")
"""/proc/cpuinfo flags of x86 CPUs with native bfloat16 arithmetic."""


def parse_cpuinfo(text: str) -> dict[str, str]:
    """The first processor's ``key: value`` fields of a /proc/cpuinfo text."""
    first = text.split("\n\n")[0]
    return {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in first.splitlines())}


@cache
def cpu_info() -> dict[str, str]:
    """This machine's first processor's fields of /proc/cpuinfo (empty where there is none)."""
    path = Path("/proc/cpuinfo")
    return parse_cpuinfo(path.read_text(encoding="utf-8", errors="replace")) if path.is_file() else {}


def cpu_has_bfloat16() -> bool:
    return any(flag in cpu_info().get("flags", "").split() for flag in BFLOAT16_FLAGS)


def resolve_precision(precision: str) -> str:
    """``auto``: ``mixed_bfloat16`` on a CPU with native bfloat16, else ``float32``; other names as they are."""
    if precision != "auto":
        return precision
    return "mixed_bfloat16" if cpu_has_bfloat16() else "float32"
