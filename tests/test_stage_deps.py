"""dvc.yaml declares exactly what each stage reads: every project module its script imports
(transitively) and every params key it uses, so no code or params edit leaves a stage stale."""

from __future__ import annotations

import ast
import dataclasses
import typing
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from starrec.params import Params

SRC = ROOT / "src"
PIPELINES = {"": ROOT / "dvc.yaml", "tune/dvc.yaml:": ROOT / "tune" / "dvc.yaml"}  # stage name prefix: file
STAGES = {
    f"{prefix}{name}": stage
    for prefix, path in PIPELINES.items()
    for name, stage in yaml.safe_load(path.read_text())["stages"].items()
}


def module_file(name: str) -> Path | None:
    """The file of a ``starrec`` module or package, else None."""
    if name.split(".")[0] != "starrec":
        return None
    base = SRC.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path) -> set[Path]:
    """Project files that ``path`` imports (absolute imports, anywhere in the file)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            if module_file(name):
                parts = name.split(".")  # every package on the way runs its __init__ too
                found |= {module_file(name), *(SRC.joinpath(*parts[:i]) / "__init__.py" for i in range(1, len(parts)))}
    return {path for path in found if path and path.is_file()}


def closure(script: Path) -> set[Path]:
    """The script and every project file it imports, transitively."""
    seen, todo = set(), [script]
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo += imported_modules(path)
    return seen


def section_fields_read(files: set[Path]) -> dict[str, set[str]]:
    """Per params dataclass name: the fields read through an argument annotated with it."""
    reads: dict[str, set[str]] = {}
    for path in files:
        for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for arg in function.args.args + function.args.kwonlyargs:
                if isinstance(arg.annotation, ast.Name) and arg.annotation.id.endswith("Params"):
                    read = reads.setdefault(arg.annotation.id, set())
                    read.update(
                        node.attr
                        for node in ast.walk(function)
                        if isinstance(node, ast.Attribute)
                        and isinstance(node.value, ast.Name)
                        and node.value.id == arg.arg
                    )
                    if any(_getattr_of(node, arg.arg) for node in ast.walk(function)):  # getattr(tune, name)
                        read.add(ALL_FIELDS)
    return reads


ALL_FIELDS = "*"
"""A function that reads its section's fields by name (``getattr``): every field counts as read."""


def _getattr_of(node: ast.AST, name: str) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and isinstance(node.args[0], ast.Name)
        and node.args[0].id == name
    )


def params_read(script: Path, files: set[Path]) -> set[str]:
    """Dotted params keys the stage uses: ``params.a.b`` chains in the script; a whole section
    handed to a library function counts as the fields that function reads."""
    tree = ast.parse(script.read_text(encoding="utf-8"))
    inner = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    sections = typing.get_type_hints(Params)
    field_reads = section_fields_read(files)
    keys = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Name)
            and node.id == "params"
            and isinstance(node.ctx, ast.Load)
            and id(node) not in inner
        ):
            raise AssertionError(f"{script.name} hands all params to a function; pass the sections it needs")
        if not isinstance(node, ast.Attribute) or id(node) in inner:
            continue
        chain = []
        while isinstance(node, ast.Attribute):
            chain.insert(0, node.attr)
            node = node.value
        if not (isinstance(node, ast.Name) and node.id == "params"):
            continue
        section = sections.get(chain[0])
        if len(chain) == 1 and dataclasses.is_dataclass(section):
            read, names = field_reads.get(section.__name__, set()), {f.name for f in dataclasses.fields(section)}
            fields = names if ALL_FIELDS in read else names & read
            keys |= {f"{chain[0]}.{name}" for name in fields} or {chain[0]}
        else:
            keys.add(".".join(chain[:2]))
    return keys


def stage_script(stage: dict) -> Path:
    return ROOT / next(token for token in stage["cmd"].split() if token.endswith(".py"))


def covered(key: str, declared: list[str]) -> bool:
    return any(key == entry or key.startswith(entry + ".") for entry in declared)


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
