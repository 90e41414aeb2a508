"""The locked install (issue #21, item 1): requirements/{cpu,gpu,serve}.txt pin every package with its
hashes, are what `make lock` makes of pyproject.toml today, and `make setup` installs them with pip's hash
checking; the GPU variant is the same TensorFlow with its CUDA libraries (no GPU here: nothing runs on one)."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from helpers.project import ROOT

pytestmark = pytest.mark.slow  # real processes, services or conversions: make test, not make test-fast

LOCKS = ("cpu", "gpu", "serve")
REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(\S+)(?: ; (.+))? \\$")


def pins(lock: str, here: bool = False) -> dict[str, str]:
    """{package: version} of a lock file (``here``: only those whose markers hold on this machine); fails on a
    requirement without an exact pin or without a hash."""
    from packaging.markers import Marker

    lines = (ROOT / "requirements" / f"{lock}.txt").read_text().splitlines()
    found = {}
    for number, line in enumerate(lines):
        if not line or line.startswith((" ", "#")):
            continue
        match = REQUIREMENT.match(line)
        assert match, f"requirements/{lock}.txt:{number + 1}: not an exact pin: {line}"
        assert lines[number + 1].strip().startswith("--hash=sha256:"), f"{lock}: {match[1]} has no hash"
        if not here or match[4] is None or Marker(match[4]).evaluate():
            found[match[1].lower().replace("_", "-")] = match[3]
    return found


def normalized(name: str) -> str:
    """A package name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def make(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *arguments], cwd=ROOT, capture_output=True, text=True)


def test_every_lock_pins_every_package_with_hashes_and_one_tensorflow():
    cpu, gpu, serve = (pins(lock) for lock in LOCKS)
    assert cpu["tensorflow-cpu"] == cpu["tensorflow"] == gpu["tensorflow"] == "2.21.0"  # tensorflow off x86 Linux
    lines = (ROOT / "requirements" / "cpu.txt").read_text()
    assert "\ntensorflow-cpu==2.21.0 ; platform_machine == 'x86_64' and sys_platform == 'linux' \\\n" in lines
    assert "\ntensorflow==2.21.0 ; platform_machine != 'x86_64' or sys_platform != 'linux' \\\n" in lines
    assert "tensorflow-cpu" not in gpu and "nvidia-cudnn-cu12" in gpu
    shared = set(cpu) & set(gpu)
    assert {name: cpu[name] for name in shared} == {name: gpu[name] for name in shared}  # one set of versions
    assert {"onnxruntime", "fastapi", "uvicorn", "pillow", "opencv-python-headless"} <= set(serve)
    assert not {"tensorflow", "tensorflow-cpu", "keras", "matplotlib", "dvc", "pandas", "scipy"} & set(serve)
    assert all(cpu[name] == version for name, version in serve.items())  # the lean service runs what was tested
    assert {"pytest", "ruff", "mypy", "uv", "setuptools"} <= set(cpu) and "pytest" not in serve


def test_make_setup_installs_the_lock_of_the_variant_with_hash_checking():
    for variant, lock in (("cpu", "requirements.txt"), ("gpu", "requirements/gpu.txt")):
        commands = make("-n", "-B", "setup", f"TENSORFLOW={variant}").stdout
        assert f"pip install --quiet --require-hashes -r {lock}\n" in commands
        assert "--no-deps --no-build-isolation -e ." in commands
    refused = make("-n", "setup", "TENSORFLOW=tpu")
    assert refused.returncode != 0 and "TENSORFLOW must be cpu or gpu, not tpu" in refused.stderr


def test_the_top_level_requirements_txt_installs_the_cpu_lock_with_hash_checking(tmp_path):
    """What a Python user tries first: ``pip install --require-hashes -r requirements.txt`` in a fresh venv."""
    assert "-r requirements/cpu.txt" in (ROOT / "requirements.txt").read_text().splitlines()
    subprocess.run([sys.executable, "-m", "venv", tmp_path / "venv"], check=True)
    report = tmp_path / "report.json"
    command = ["install", "--quiet", "--dry-run", "--require-hashes", "--report", report, "-r", "requirements.txt"]
    done = subprocess.run([tmp_path / "venv" / "bin" / "python", "-m", "pip", *command], cwd=ROOT, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    installs = json.loads(report.read_text())["install"]
    chosen = {normalized(item["metadata"]["name"]): item["metadata"]["version"] for item in installs}
    assert chosen == {normalized(name): version for name, version in pins("cpu", here=True).items()}


TARGETS = [
    (platform, python)
    for platform in ("x86_64-manylinux_2_28", "aarch64-manylinux_2_28", "aarch64-apple-darwin")
    for python in ("3.11", "3.12", "3.13")
]
"""Where make setup installs: Linux x86_64 and aarch64 (glibc 2.28+), macOS 14+ on Apple silicon; Python
3.11-3.13. The gpu lock: Linux only (CUDA wheels)."""


def test_each_lock_installs_with_hashes_on_every_supported_system(tmp_path):
    """uv's dry run resolves a lock for another system from the registry's metadata, in seconds, downloading
    no wheel: a pin without a wheel for one of the targets (tensorflow-cpu on macOS, say) fails here."""
    from concurrent.futures import ThreadPoolExecutor

    locks = ("requirements.txt", "requirements/serve.txt", "requirements/gpu.txt")
    targets = [(lock, *target) for lock in locks for target in TARGETS]
    targets = [target for target in targets if not (target[0].endswith("gpu.txt") and "darwin" in target[1])]
    env = {**os.environ, "MACOSX_DEPLOYMENT_TARGET": "14.0"}  # onnxruntime 1.32's macOS wheels need macOS 14

    def resolve(target: tuple[str, str, str]) -> str:
        lock, platform, python = target
        folder = tmp_path / f"{lock.replace('/', '-')}-{platform}-{python}"
        command = [ROOT / ".venv/bin/uv", "pip", "install", "--dry-run", "--target", folder, "-r", lock]
        command += ["--python-platform", platform, "--python-version", python, "--require-hashes"]
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        return "" if done.returncode == 0 else f"{lock} on {platform}, Python {python}: {done.stderr.strip()[-600:]}"

    with ThreadPoolExecutor(max_workers=6) as pool:  # each waits on the registry most of its time
        failures = [failure for failure in pool.map(resolve, targets) if failure]
    assert len(targets) == 24 and not failures, "\n".join(failures)


def test_each_lock_is_what_make_lock_makes_of_pyproject_today(tmp_path):
    """A pyproject.toml edit without `make lock` fails here (uv resolves against the package registry)."""
    for lock in LOCKS:
        shutil.copy(ROOT / "requirements" / f"{lock}.txt", tmp_path / f"{lock}.txt")  # today's versions kept
    done = make("lock", f"LOCK_DIR={tmp_path}")
    assert done.returncode == 0, done.stdout + done.stderr
    for lock in LOCKS:
        assert (tmp_path / f"{lock}.txt").read_text() == (ROOT / "requirements" / f"{lock}.txt").read_text(), (
            f"requirements/{lock}.txt is stale: run `make lock` and commit it"
        )


def test_make_setup_finds_a_supported_python_or_says_in_one_line_what_it_needs(tmp_path):
    """tools/find_python.sh: python3 first, then python3.13 ... 3.11, each checked for 3.11-3.13."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text("#!/bin/sh\ncase $1 in --version) echo 'Python 3.10.13';; *) exit 1;; esac\n")
    (bin_dir / "python3").chmod(0o755)
    env = {"PATH": str(bin_dir)}  # nothing else: /usr/bin may hold a python3.11
    script = str(ROOT / "tools" / "find_python.sh")
    none = subprocess.run(["/bin/sh", script], env=env, capture_output=True, text=True)
    assert none.returncode == 1 and none.stdout == ""
    assert none.stderr == (
        "make setup: needs Python 3.11, 3.12 or 3.13 (python3: Python 3.10.13); install one (python.org, "
        "Homebrew, apt) or name it: make setup PYTHON=/path/to/python3.12\n"
    )
    (bin_dir / "python3.12").symlink_to(sys.executable)  # this test's Python: 3.11-3.13
    found = subprocess.run(["/bin/sh", script], env=env, capture_output=True, text=True, check=True)
    assert found.stdout == f"{bin_dir / 'python3.12'}\n" and found.stderr.startswith(f"make setup: {bin_dir}")
