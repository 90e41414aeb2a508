"""Helpers of the tests that run the project as a user does: its root, an environment for its commands, a
copy of it in a new git repository, the stages a DVC run ran."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

from serving import free_port as free_port  # re-exported: the tests' one free port
from starrec.params import Params, parse_params, render_params_yaml

ROOT = Path(__file__).resolve().parents[2]


ENV = {
    **os.environ,
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@t",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@t",
    "DVC_NO_ANALYTICS": "1",
}
"""Commands of the tests: this venv first, a git identity for commits and `dvc exp run`."""

COMMITTED_RESULTS = ("metrics/",)
"""The results that main's own run committed to git (``cache: false``): a test's repo makes its own."""


def run(repo: Path, *command: str) -> str:
    """``command`` in ``repo``; its output, or the test fails with it."""
    done = subprocess.run(command, cwd=repo, env=ENV, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def stages_run(output: str) -> set[str]:
    """The stages that a dvc repro / exp run output says it ran."""
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")}


def copy_project(repo: Path, overrides: dict) -> Path:
    """A new git repository at ``repo`` with the project's files (those git would add) and a params.yaml
    of the schema's defaults with ``overrides`` ({section: {key: value}} or {key: value}), rendered as the
    project writes it, committed. The user's working params.yaml, dvc.lock files and results are not used."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    for name in listed.stdout.splitlines():
        if Path(name).name == "dvc.lock" or name == "params.yaml" or name.startswith(COMMITTED_RESULTS):
            continue
        if not (ROOT / name).is_file():
            continue
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, repo / name)
    params = dataclasses.asdict(Params())
    for section, values in overrides.items():
        params[section] = {**params[section], **values} if isinstance(values, dict) else values
    (repo / "params.yaml").write_text(render_params_yaml(parse_params(params)), encoding="utf-8")
    run(repo, "git", "init", "-q")
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-qm", "project")
    return repo
