"""One home for every pipeline file (issue #30): dvc.yaml and tune/dvc.yaml declare exactly the artifacts
module's files, and no other module spells the name of one of the files the stages write (messages name them
through the module too)."""

from __future__ import annotations

import ast
import itertools
import os
from pathlib import Path

import pytest
import yaml
from stage_deps import PIPELINES, ROOT

from starrec import artifacts
from starrec.errors import MissingInput, StarrecError

DECLARED = {
    value.as_posix() for name, value in vars(artifacts).items() if name.isupper() and isinstance(value, Path)
} | {artifacts.plot(name).as_posix() for name in artifacts.PLOT_NAMES}


def pipeline_files(pipeline: Path) -> set[str]:
    """Every path a pipeline file names as an output, a metrics file or plot data, relative to the repository
    (outputs relative to each stage's ``wdir``, plots to the pipeline file's folder)."""
    spec, folder = yaml.safe_load(pipeline.read_text(encoding="utf-8")), pipeline.parent

    def from_root(base: Path, path: str) -> str:
        return os.path.relpath(os.path.normpath(base / path), ROOT)

    found = set()
    for stage in spec["stages"].values():
        base = folder / stage.get("wdir", ".")
        found |= {from_root(base, next(iter(out)) if isinstance(out, dict) else out) for out in stage.get("outs", [])}
    found |= {from_root(folder, path) for path in spec.get("metrics", [])}
    for entry in spec.get("plots", []):
        ((name, definition),) = entry.items()
        paths = definition["y"] if isinstance(definition, dict) and isinstance(definition.get("y"), dict) else [name]
        found |= {from_root(folder, path) for path in paths}
    return found


def test_every_output_metrics_file_and_plot_of_both_pipelines_is_an_artifact():
    for pipeline in PIPELINES.values():
        for path in pipeline_files(pipeline):
            inside = any(path == known or path.startswith(known + "/") for known in DECLARED)
            assert inside, f"{pipeline.name}: {path} is not declared in src/starrec/artifacts.py"
            assert "${" in path or path.startswith(artifacts.TRAIN_LIVE.as_posix()) or path in DECLARED, path


def test_every_artifact_under_the_pipeline_folders_is_written_by_a_stage():
    written = set().union(*(pipeline_files(pipeline) for pipeline in PIPELINES.values()))
    written.add(artifacts.kfold_part(0).parent.as_posix())  # data/kfold/part-${item.part}.json
    for path in DECLARED:
        if path.split("/")[0] in ("data", "models", "metrics", "visuals"):
            inside_or_parent = any(
                path == out or path.startswith(out + "/") or out.startswith(path + "/") for out in written
            )
            assert inside_or_parent, f"{path}: no stage writes it"


def names_spelled(tree: ast.AST, docstrings: set[int]) -> list[str]:
    """The string constants of ``tree`` that are not docstrings."""
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def docstring_ids(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
        if isinstance(node, (ast.Module, ast.ClassDef)):  # attribute docstrings: a string after an assignment
            for before, after in itertools.pairwise(node.body):
                if isinstance(before, (ast.Assign, ast.AnnAssign)) and isinstance(after, ast.Expr):
                    found.add(id(after.value))
    return found


def test_no_module_but_the_artifacts_module_spells_a_pipeline_file_name():
    outputs = [Path(path) for path in DECLARED if path.split("/")[0] in ("data", "models", "metrics", "visuals")]
    names = {path.name for path in outputs if path.suffix}
    offenders = []
    for path in [*(ROOT / "src").rglob("*.py"), *(ROOT / "stages").glob("*.py")]:
        if path.name == "artifacts.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for text in names_spelled(tree, docstring_ids(tree)):
            offenders += [f"{path.relative_to(ROOT)}: {text!r}" for name in names if name in text]
    assert not offenders, "\n".join(offenders)


def test_a_missing_damaged_or_wrong_kind_of_json_file_is_one_line_naming_it(tmp_path):
    path = tmp_path / "test.json"
    with pytest.raises(MissingInput, match=r"test.json: missing; run `dvc repro` first$"):
        artifacts.read_json(path, artifacts.TestReport)
    assert artifacts.read_optional(path, artifacts.TestReport) is None
    path.write_text('{"accuracy": 0.9')  # cut short
    with pytest.raises(StarrecError, match=r"test.json: not valid JSON \(.*\); `dvc checkout .*test.json` or re-run"):
        artifacts.read_json(path, artifacts.TestReport)
    path.write_text("[1, 2]")
    with pytest.raises(StarrecError, match=r"test.json: not a JSON object"):
        artifacts.read_json(path, artifacts.TestReport)
    assert artifacts.read_json(path, list[artifacts.SplitCount]) == [1, 2]  # the schema's kind: a list
    path.write_text('{"accuracy": 0.9}')
    assert artifacts.read_json(path, artifacts.TestReport) == {"accuracy": 0.9}
