"""The GPU install variant resolves: the same TensorFlow with its CUDA libraries, alongside every
other pinned requirement (issue #13; no GPU here, so nothing runs on one)."""

import json
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow  # real processes, services or conversions: make test, not make test-fast


def requirement(variant: str) -> str:
    return subprocess.run(
        ["make", "--no-print-directory", "-s", "tensorflow-package", f"TENSORFLOW={variant}"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


def test_the_gpu_variant_resolves_with_every_pinned_requirement(tmp_path):
    assert requirement("cpu") == "tensorflow-cpu==2.21.0"
    gpu = requirement("gpu")
    assert gpu == "tensorflow[and-cuda]==2.21.0"
    report = tmp_path / "report.json"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed", "--report", report,
         "-r", ROOT / "requirements.txt", gpu],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    versions = {
        item["metadata"]["name"].lower(): item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }
    assert versions["tensorflow"] == "2.21.0" and "tensorflow-cpu" not in versions
    assert "nvidia-cudnn-cu12" in versions and versions["keras"] == "3.15.1"
