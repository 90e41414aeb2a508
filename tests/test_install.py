"""The locked install (issue #21, item 1): requirements/{cpu,gpu,serve}.txt pin every package with its
hashes, are what `make lock` makes of pyproject.toml today, and `make setup` installs them with pip's hash
checking; the GPU variant is the same TensorFlow with its CUDA libraries (no GPU here: nothing runs on one)."""

import json
import re
import shutil
import subprocess
import sys

import pytest

from helpers.project import ROOT

pytestmark = pytest.mark.slow  # real processes, services or conversions: make test, not make test-fast

LOCKS = ("cpu", "gpu", "serve")
REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(\S+) \\$")


def pins(lock: str) -> dict[str, str]:
    """{package: version} of a lock file; fails on a requirement without an exact pin or without a hash."""
    lines = (ROOT / "requirements" / f"{lock}.txt").read_text().splitlines()
    found = {}
    for number, line in enumerate(lines):
        if not line or line.startswith((" ", "#")):
            continue
        match = REQUIREMENT.match(line)
        assert match, f"requirements/{lock}.txt:{number + 1}: not an exact pin: {line}"
        assert lines[number + 1].strip().startswith("--hash=sha256:"), f"{lock}: {match[1]} has no hash"
        found[match[1].lower().replace("_", "-")] = match[3]
    return found


def normalized(name: str) -> str:
    """A package name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def make(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *arguments], cwd=ROOT, capture_output=True, text=True)


def test_every_lock_pins_every_package_with_hashes_and_one_tensorflow():
    cpu, gpu, serve = (pins(lock) for lock in LOCKS)
    assert cpu["tensorflow-cpu"] == gpu["tensorflow"] == "2.21.0"
    assert "tensorflow" not in cpu and "tensorflow-cpu" not in gpu and "nvidia-cudnn-cu12" in gpu
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
    assert chosen == {normalized(name): version for name, version in pins("cpu").items()}


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
