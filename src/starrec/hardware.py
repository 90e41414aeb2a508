"""What this machine computes fast: ``train.precision: auto`` picks bfloat16 where the CPU has it, and
whether TensorFlow turns oneDNN on by itself here. ``python -m starrec.hardware --other-kind`` prints the
settings under which this machine behaves as the other CPU kind (``make test-other-cpu``)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from starrec.errors import StarrecError

BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")
"""/proc/cpuinfo flags of x86 CPUs with native bfloat16 arithmetic."""

ONEDNN_DEFAULT_FLAGS = ("avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16")
"""/proc/cpuinfo flags for which TensorFlow turns oneDNN on by default on Linux (tensorflow/core/util/port.cc,
``DefaultOneDnnPolicy``; the same there for Arm Neoverse V1, which this does not detect)."""

AUTO_PRECISION = "STARREC_AUTO_PRECISION"
"""Environment variable: what ``auto`` becomes whatever the CPU, to run as another CPU kind would."""

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")

ONEDNN = "TF_ENABLE_ONEDNN_OPTS"
"""TensorFlow's own switch: 1 or 0 overrides its default (:func:`onednn_by_default`)."""


def parse_cpuinfo(text: str) -> dict[str, str]:
    """The first processor's ``key: value`` fields of a /proc/cpuinfo text."""
    first = text.split("\n\n")[0]
    return {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in first.splitlines())}


def _sysctl(name: str) -> str:
    """macOS's ``sysctl -n name``, or empty where it is not there."""
    try:
        done = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=5, check=False)
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


@cache
def cpu_info() -> dict[str, str]:
    """This machine's first processor's fields of /proc/cpuinfo (Linux); on macOS the ``model name`` from
    sysctl (an Apple CPU has none of the x86 flags); empty where neither says."""
    path = Path("/proc/cpuinfo")
    if path.is_file():
        return parse_cpuinfo(path.read_text(encoding="utf-8", errors="replace"))
    if sys.platform == "darwin":
        brand = _sysctl("machdep.cpu.brand_string")
        return {"model name": brand} if brand else {}
    return {}


def _flags() -> set[str]:
    return set(cpu_info().get("flags", "").split())


def cpu_has_bfloat16() -> bool:
    return any(flag in _flags() for flag in BFLOAT16_FLAGS)


def onednn_by_default() -> bool:
    """Whether TensorFlow turns its oneDNN kernels on by itself on this machine (x86 Linux with AVX512-VNNI,
    AVX-VNNI, AVX512-BF16 or AMX); ``TF_ENABLE_ONEDNN_OPTS`` overrides it."""
    return sys.platform.startswith("linux") and any(flag in _flags() for flag in ONEDNN_DEFAULT_FLAGS)


def onednn_on() -> bool:
    """Whether TensorFlow runs oneDNN in this process: ``TF_ENABLE_ONEDNN_OPTS`` if set, else its default."""
    chosen = os.environ.get(ONEDNN, "").strip().lower()
    if chosen in ("1", "true"):
        return True
    if chosen in ("0", "false"):
        return False
    return onednn_by_default()


def auto_precision() -> str:
    """What ``auto`` becomes: ``STARREC_AUTO_PRECISION`` if set, else ``mixed_bfloat16`` on a CPU with native
    bfloat16 and ``float32`` elsewhere."""
    pinned = os.environ.get(AUTO_PRECISION, "").strip()
    if pinned:
        if pinned not in PRECISIONS:
            raise StarrecError(f"{AUTO_PRECISION}={pinned[:40]!r}: allowed {', '.join(PRECISIONS)} (or unset)")
        return pinned
    return "mixed_bfloat16" if cpu_has_bfloat16() else "float32"


def resolve_precision(precision: str) -> str:
    """``auto``: :func:`auto_precision`; other names as they are."""
    return auto_precision() if precision == "auto" else precision


def other_kind() -> dict[str, str]:
    """The environment under which this machine behaves as the other CPU kind: ``auto`` pinned to the precision
    it would not pick here, and TensorFlow's oneDNN switch flipped from what it is here, except on a CPU
    without AVX512: oneDNN has no bfloat16 convolution there, so it stays off (Eigen emulates bfloat16)."""
    precision = "float32" if auto_precision() == "mixed_bfloat16" else "mixed_bfloat16"
    onednn = not onednn_on()
    if onednn and precision == "mixed_bfloat16" and "avx512f" not in _flags():
        onednn = False
    return {ONEDNN: "1" if onednn else "0", AUTO_PRECISION: precision}


CPU_FEATURES = (("amx_bf16", "AMX"), ("avx512_bf16", "AVX512-BF16"), ("avx2", "AVX2"))
"""(/proc/cpuinfo flag, name) from the most to the least capable."""


def cpu_description() -> str:
    """``AMD EPYC (AVX512-BF16)``: the CPU's model name (``Apple M2`` on macOS; ``aarch64 CPU`` where Linux
    names none) and the most telling of AMX, AVX512-BF16 and AVX2 that it has (what decides ``auto`` and how
    fast it trains)."""
    info = cpu_info()
    features = next((name for flag, name in CPU_FEATURES if flag in _flags()), "")
    name = info.get("model name") or info.get("Model name") or f"{platform.machine() or 'an unknown'} CPU"
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


def main(argv: list[str]) -> None:
    """``--other-kind``: :func:`other_kind` as ``NAME=value`` words for a shell; else this machine in a line."""
    if argv == ["--other-kind"]:
        print(" ".join(f"{name}={value}" for name, value in other_kind().items()))
    else:
        state = "on" if onednn_on() else "off"
        print(f"{cpu_description()}: train.precision auto = {auto_precision()}, TensorFlow's oneDNN {state}")


if __name__ == "__main__":
    main(sys.argv[1:])
