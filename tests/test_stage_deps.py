"""dvc.yaml declares exactly what each stage reads: every project module its script imports
(transitively) and every params key it uses, so no code or params edit leaves a stage stale."""

from __future__ import annotations

import dataclasses
import typing

import pytest
from stage_deps import PIPELINES, ROOT, closure, covered, params_read, rewritten, stage_script, stages, wanted_lists

from starrec.params import UNTRACKED, Params

STAGES = {f"{prefix}{name}": stage for prefix, path in PIPELINES.items() for name, stage in stages(path).items()}


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_imported_module_is_a_dependency_and_nothing_else(name):
    stage = STAGES[name]
    imported = {path.relative_to(ROOT).as_posix() for path in closure(stage_script(stage))}
    declared = {dep for dep in stage["deps"] if dep.endswith(".py")}
    assert not imported - declared, f"dvc.yaml stage {name}: add to deps: {sorted(imported - declared)}"
    assert not declared - imported, (
        f"dvc.yaml stage {name}: not imported, remove from deps: {sorted(declared - imported)}"
    )


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_params_key_read_is_declared_and_nothing_else(name):
    stage = STAGES[name]
    script = stage_script(stage)
    read = params_read(script, closure(script))
    declared = stage.get("params", [])
    missing = sorted(key for key in read if not covered(key, declared))
    assert not missing, f"dvc.yaml stage {name}: add to params: {missing}"
    unused = sorted(entry for entry in declared if not any(covered(key, [entry]) for key in read))
    assert not unused, f"dvc.yaml stage {name}: not read, remove from params: {unused}"
    sections = typing.get_type_hints(Params)
    for entry in declared:
        if entry in sections and dataclasses.is_dataclass(sections[entry]) and entry not in read:
            unread = sorted(
                f"{entry}.{f.name}"
                for f in dataclasses.fields(sections[entry])
                if not covered(f"{entry}.{f.name}", read)
            )
            assert not unread, (
                f"dvc.yaml stage {name}: declares all of {entry} but does not read {unread}; list the keys it reads"
            )


def test_the_analysis_sees_a_section_through_the_function_it_is_handed_to():
    script = ROOT / "stages" / "download.py"
    read = params_read(script, closure(script))
    assert "data.sha256" in read and "data.classes" not in read and "seed" in read


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_scripts_are_wiring_of_at_most_45_lines(name):
    lines = stage_script(STAGES[name]).read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 45, f"stages/{name}.py has {len(lines)} lines; move logic into src/starrec"


def test_make_deps_leaves_the_pipeline_files_as_they_are():
    for pipeline in PIPELINES.values():
        text = pipeline.read_text(encoding="utf-8")
        assert rewritten(text, wanted_lists(pipeline)) == text, f"{pipeline.name}: run make deps"


def test_make_deps_replaces_code_deps_and_params_and_keeps_the_rest():
    text = """stages:
  a:
    cmd: python stages/a.py
    deps:
      - data/x  # the data
      - stages/a.py
      - src/starrec/gone.py
      - data/y
    params:
      - seed  # kept with its comment
      - old.key
    outs:
      - out
metrics:
  - m.json
"""
    wanted = {"a": (["stages/a.py", "src/starrec/new.py"], ["seed", "new.key"])}
    assert rewritten(text, wanted) == text.replace(
        "      - src/starrec/gone.py\n", "      - src/starrec/new.py\n"
    ).replace("old.key", "new.key")


def test_no_stage_depends_on_a_runtime_key():
    """``runtime.*`` (backups, cache, TensorBoard) changes how a stage runs, never its result: no stage lists
    it, so changing it re-runs nothing but check_params (tests/test_pipeline_e2e.py runs that)."""
    assert UNTRACKED == "runtime"
    for name, stage in STAGES.items():
        assert not [key for key in stage.get("params", []) if key.split(".")[0] == UNTRACKED], name
    train = ROOT / "stages" / "train.py"
    assert "params.runtime.tensorboard" in train.read_text() and not any(
        key.startswith(UNTRACKED) for key in params_read(train, closure(train))
    )
