"""The experiment loop as a user runs it: `dvc exp run -S train.momentum=0.5` after `make run`, stage by stage.

In a fresh copy of the project (its files and params.yaml, as a clone has them), ``dvc repro`` runs
once (what ``make run`` does after the install); then the experiment runs with a sampler reading
``/proc`` every 20 ms (and the whole of it for new processes every 200 ms). For each stage:

- ``wall_s``: from DVC's ``Running stage '<name>'`` line to the next stage's (or the end): the stage's
  process and DVC's own work around it (hashing, run-cache, checkout);
- ``process_s``: from the start of its first process to the last sample of its last one; the rest of
  ``wall_s`` is DVC's own work around it;
- ``cpu_s``: user + system time of the stage's processes and their children (``/proc/<pid>/stat``);
- ``peak_rss_mib``: the largest ``VmHWM`` of its processes (``ru_maxrss`` would carry the benchmark's own
  peak over fork and exec);
- ``tensorflow``: whether it loaded TensorFlow (``libtensorflow`` in ``/proc/<pid>/maps``).

``tensorflow_import_s`` is the median time of ``python -c "import tensorflow"`` here, the fixed cost of
each stage that loads it.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from speed import ROOT, UNBUFFERED, project_copy, timed_lines
from starrec.hardware import cpu_description, onednn_on, resolve_precision
from starrec.params import load_params

EXPERIMENT = ["dvc", "exp", "run", "-S", "train.momentum=0.5"]
TICKS = os.sysconf("SC_CLK_TCK")
STAGE_SCRIPT = re.compile(r"stages/(\w+)\.py(?: (\S+))?")


@dataclass
class Sample:
    """What the sampler saw of one process of a stage."""

    stage: str
    cpu_s: float = 0.0
    peak_mib: float = 0.0
    tensorflow: bool = False
    started_s: float = 0.0  # since boot (its /proc/<pid>/stat starttime)
    seen_s: float = 0.0  # since boot, when last sampled


@dataclass
class Sampler:
    """Every 20 ms, the stage processes under ``root`` (a pid): CPU time, VmHWM and whether TensorFlow is loaded.

    All of ``/proc`` is scanned for new stage processes every 200 ms only: scanning it every 20 ms took 0.12
    of the 2 cores, which the stages then lacked. A stage process lives for seconds; its CPU time and VmHWM
    only grow, so the last sample holds them (up to 20 ms of CPU at its end are lost).
    """

    root: int
    seen: dict[int, Sample] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        tick, stages = 0, {}
        while not self.stop.is_set():
            if tick % 10 == 0:
                stages = self._stage_processes()
            for pid, stage in list(stages.items()):
                if not self._sample(pid, stage):
                    del stages[pid]  # it ended
            tick += 1
            time.sleep(0.02)

    def _stage_processes(self) -> dict[int, str]:
        """pid -> stage (``fold@0``) of each descendant of ``root`` that is a stage script or runs under one."""
        parents, commands = {}, {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    parents[int(entry.name)] = int(Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[1])
                    commands[int(entry.name)] = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode()
                except (OSError, IndexError, ValueError):
                    continue
        stages = {}
        for pid in parents:
            lineage = [pid]
            while lineage[-1] in parents and lineage[-1] != self.root:
                lineage.append(parents[lineage[-1]])
            if lineage[-1] != self.root:
                continue
            for ancestor in lineage:
                match = STAGE_SCRIPT.search(commands.get(ancestor, ""))
                if match:
                    stages[pid] = match[1] + (f"@{match[2]}" if match[2] else "")
                    break
        return stages

    def _sample(self, pid: int, stage: str) -> bool:
        """Whether ``pid`` was still there to sample."""
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            status = Path(f"/proc/{pid}/status").read_text()
            tensorflow = self.seen[pid].tensorflow if pid in self.seen else False
            tensorflow = tensorflow or "libtensorflow" in Path(f"/proc/{pid}/maps").read_text()
        except (OSError, IndexError):
            return False
        sample = self.seen.setdefault(pid, Sample(stage, started_s=int(fields[19]) / TICKS))
        sample.cpu_s = (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime; children are sampled themselves
        sample.seen_s = time.clock_gettime(time.CLOCK_BOOTTIME)
        sample.tensorflow = tensorflow
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                sample.peak_mib = max(sample.peak_mib, int(line.split()[1]) / 1024)
        return True


def stage_walls(lines: list[tuple[float, str]], started: float, ended: float) -> dict[str, float]:
    """Each stage's seconds from its ``Running stage`` line to the next one (or ``ended``)."""
    starts = [(when, line.split("'")[1]) for when, line in lines if line.startswith("Running stage")]
    walls = {}
    for (when, name), (following, _) in zip(starts, [*starts[1:], (ended, "")], strict=True):
        walls[name] = round(following - when, 1)
    if starts:
        walls["(dvc before the first stage)"] = round(starts[0][0] - started, 1)
    return walls


def tensorflow_import_s() -> float:
    """The median of three ``python -c "import tensorflow"`` runs, in seconds."""
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import tensorflow"], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 2)


def measure(scratch: Path) -> dict:
    """``make run`` once, then the experiment's stage table; the copy is removed at the end."""
    repo = project_copy(scratch / "experiment", params=(ROOT / "params.yaml").read_text(encoding="utf-8"))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **UNBUFFERED}
    started = time.perf_counter()
    timed_lines(["dvc", "repro"], repo, env, repo / "run.log")
    make_run_s = round(time.perf_counter() - started, 1)
    sampler = Sampler(os.getpid())
    thread = threading.Thread(target=sampler.run, daemon=True)
    thread.start()
    started = time.perf_counter()
    lines = timed_lines(EXPERIMENT, repo, env, repo / "experiment.log")
    ended = time.perf_counter()
    sampler.stop.set()
    thread.join()
    walls = stage_walls(lines, started, ended)
    stages: dict[str, dict] = {name: {"wall_s": wall} for name, wall in walls.items()}
    spans: dict[str, list[float]] = {}
    for sample in sampler.seen.values():
        span = spans.setdefault(sample.stage, [sample.started_s, sample.seen_s])
        span[:] = [min(span[0], sample.started_s), max(span[1], sample.seen_s)]
        row = stages.setdefault(sample.stage, {"wall_s": None})
        row["process_s"] = round(span[1] - span[0], 1)
        row["cpu_s"] = round(row.get("cpu_s", 0.0) + sample.cpu_s, 1)
        row["peak_rss_mib"] = round(max(row.get("peak_rss_mib", 0.0), sample.peak_mib), 1)
        row["tensorflow"] = row.get("tensorflow", False) or sample.tensorflow
    shutil.rmtree(repo)
    total = round(ended - started, 1)
    return {
        "command": " ".join(EXPERIMENT),
        "machine": machine(),
        "make_run_s": make_run_s,
        "total_s": total,
        "stages_s": round(sum(wall for wall in walls.values()), 1),
        "stages": stages,
        "stages_loading_tensorflow": sum(1 for row in stages.values() if row.get("tensorflow")),
        "tensorflow_import_s": tensorflow_import_s(),
    }


def machine() -> dict[str, str | bool]:
    """What the figures depend on: the CPU, the precision ``train.precision`` became, TensorFlow's kernels
    (oneDNN or Eigen, and oneDNN's instruction cap ``ONEDNN_MAX_CPU_ISA`` where set), and the day."""
    precision = load_params(ROOT / "params.yaml").train.precision
    return {
        "cpu": cpu_description(),
        "precision": resolve_precision(precision),
        "onednn": onednn_on(),
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", ""),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }


def caption(machine: dict) -> str:
    """``AMD EPYC (AVX2), float32, oneDNN on, 2026-12-08``: the line every stage table carries."""
    kernels = "oneDNN " + ("on" if machine["onednn"] else "off (Eigen)")
    if machine.get("onednn_max_cpu_isa"):
        kernels += f" up to {machine['onednn_max_cpu_isa']}"
    return f"{machine['cpu']}, {machine['precision']}, {kernels}, {machine['date']}"


def table(result: dict) -> str:
    """The stage table as Markdown (docs/benchmarks.md), under the machine it ran on."""
    rows = [f"On {caption(result['machine'])}:", ""]
    rows += ["| stage | wall s | its processes s | CPU s | peak RSS MiB | TensorFlow |"]
    rows += ["|---|---:|---:|---:|---:|---|"]
    for name, row in result["stages"].items():
        cells = [row.get("wall_s"), row.get("process_s"), row.get("cpu_s"), row.get("peak_rss_mib")]
        flag = "yes" if row.get("tensorflow") else "no" if "tensorflow" in row else ""
        rows.append(f"| {name} | " + " | ".join("" if cell is None else f"{cell}" for cell in cells) + f" | {flag} |")
    rows.append(f"| **total** | **{result['total_s']}** | | | | {result['stages_loading_tensorflow']} stages |")
    return "\n".join(rows)
