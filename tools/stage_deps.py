"""What each DVC stage reads, from its script's code: every project module it imports (transitively) and
every params key it uses. ``make deps`` writes them into dvc.yaml and tune/dvc.yaml (the code deps and the
params of each stage; data deps, outputs and comments stay as they are); tests/test_stage_deps.py checks that
the files hold exactly them, so no code or params edit leaves a stage stale.

    python tools/stage_deps.py           # lists the stages whose lists differ (exit 1 if any)
    python tools/stage_deps.py --write   # rewrites those lists in place
"""

from __future__ import annotations

import ast
import dataclasses
import re
import sys
import typing
from pathlib import Path

import yaml

from starrec.params import UNTRACKED, Params

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PIPELINES = {"": ROOT / "dvc.yaml", "tune/dvc.yaml:": ROOT / "tune" / "dvc.yaml"}  # stage name prefix: file


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
        chain: list[str] = []
        while isinstance(node, ast.Attribute):
            chain.insert(0, node.attr)
            node = node.value
        if not (isinstance(node, ast.Name) and node.id == "params") or chain[0] == UNTRACKED:
            continue  # runtime.*: read, never declared, so that changing it re-runs nothing
        section = sections.get(chain[0])
        if len(chain) == 1 and isinstance(section, type) and dataclasses.is_dataclass(section):
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


def stages(pipeline: Path) -> dict[str, dict]:
    """The stages of one pipeline file, by name."""
    return yaml.safe_load(pipeline.read_text(encoding="utf-8"))["stages"]


def code_deps(stage: dict) -> list[str]:
    """The stage's script, then every project file it imports, sorted (paths relative to the repository)."""
    script = stage_script(stage)
    modules = sorted(path.relative_to(ROOT).as_posix() for path in closure(script) if path != script)
    return [script.relative_to(ROOT).as_posix(), *modules]


def params_entries(stage: dict) -> list[str]:
    """The params keys the stage reads in params.yaml's order; a section read whole is named alone."""
    script = stage_script(stage)
    read, entries = params_read(script, closure(script)), []
    for section, kind in typing.get_type_hints(Params).items():
        if section == UNTRACKED:
            continue
        if not dataclasses.is_dataclass(kind):
            entries += [section] if section in read else []
            continue
        fields = [f"{section}.{field.name}" for field in dataclasses.fields(kind)]
        if read >= set(fields) or section in read:
            entries.append(section)
        else:
            entries += [key for key in fields if any(covered(found, [key]) for found in read)]
    return entries


ITEM = re.compile(r"^(?P<indent>\s+)- (?P<value>[^#\s]+)(?P<comment>\s+#.*)?$")


def is_code(dep: str) -> bool:
    return dep.endswith(".py") and dep.startswith(("src/", "stages/"))


def rewritten(text: str, wanted: dict[str, tuple[list[str], list[str]]]) -> str:
    """``text`` (a pipeline file) with each stage's code deps and params replaced by ``wanted[stage]``: the
    code deps where the first one stood, the params in their order; a kept entry keeps its comment."""
    lines, out, index = text.splitlines(keepends=True), [], 0
    in_stages, stage = False, None
    while index < len(lines):
        line = lines[index]
        if re.match(r"^\S", line):
            in_stages, stage = line.startswith("stages:"), None
        elif in_stages and (found := re.match(r"^  ([\w@-]+):", line)):
            stage = found.group(1)
        block = re.match(r"^    (deps|params):\s*$", line)
        if not (stage in wanted and block):
            out.append(line)
            index += 1
            continue
        out.append(line)
        index += 1
        items: list[re.Match[str]] = []
        while index < len(lines) and (item := ITEM.match(lines[index].rstrip("\n"))):
            items.append(item)
            index += 1
        indent = items[0].group("indent") if items else "      "
        comments = {item.group("value"): item.group("comment") or "" for item in items}
        deps, params = wanted[stage]
        if block.group(1) == "deps":
            kept = [item.group("value") for item in items]
            first = next((i for i, dep in enumerate(kept) if is_code(dep)), len(kept))
            values = [dep for dep in kept[:first] if not is_code(dep)] + deps
            values += [dep for dep in kept[first:] if not is_code(dep)]
        else:
            values = params
        out += [f"{indent}- {value}{comments.get(value, '')}\n" for value in values]
    return "".join(out)


def wanted_lists(pipeline: Path) -> dict[str, tuple[list[str], list[str]]]:
    return {name: (code_deps(stage), params_entries(stage)) for name, stage in stages(pipeline).items()}


def main(argv: list[str]) -> int:
    stale = []
    for pipeline in PIPELINES.values():
        text = pipeline.read_text(encoding="utf-8")
        new = rewritten(text, wanted_lists(pipeline))
        if new != text:
            stale.append(pipeline.relative_to(ROOT).as_posix())
            if "--write" in argv:
                pipeline.write_text(new, encoding="utf-8")
    verb = "rewrote" if "--write" in argv else "differ from the code (make deps)"
    print(f"{verb}: {', '.join(stale)}" if stale else "deps and params as the code reads them")
    return 1 if stale and "--write" not in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
