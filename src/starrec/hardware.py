"""What this machine computes fast: ``train.precision: auto`` picks bfloat16 where the CPU has it."""

from __future__ import annotations

from datetime import UTC, datetime
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


CPU_FEATURES = (("amx_bf16", "AMX"), ("avx512_bf16", "AVX512-BF16"), ("avx2", "AVX2"))
"""(/proc/cpuinfo flag, name) from the most to the least capable."""


def cpu_description() -> str:
    """``AMD EPYC (AVX512-BF16)``: /proc/cpuinfo's model name and the most telling of AMX, AVX512-BF16 and
    AVX2 that it has (what decides ``auto`` and how fast it trains)."""
    info = cpu_info()
    flags = set(info.get("flags", "").split())
    features = next((name for flag, name in CPU_FEATURES if flag in flags), "")
    name = info.get("model name") or info.get("Model name") or "an unknown CPU"
    return f"{name} ({features})" if features else name


def training_machine(precision: str, seconds: float) -> dict[str, str | float]:
    """metrics/train_machine.json: the CPU a model was trained on, the precision ``precision`` became, the
    seconds it trained and calibrated (a resumed run: since its resume) and when it finished (UTC)."""
    finished = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    return {
        "cpu": cpu_description(),
        "precision": resolve_precision(precision),
        "seconds": round(seconds, 1),
        "finished": finished,
    }
