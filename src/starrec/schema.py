"""A params file described by frozen dataclasses: each key's default, type, allowed range or
choices and help text (:func:`param`, :func:`section`); :func:`build` validates a YAML mapping into
them, naming the key and what it accepts on any error; :func:`render` writes them back as YAML
with the help as comments. Kept here rather than taken from pydantic or OmegaConf: ~150 lines
give the one-line errors, did-you-mean hints and commented YAML those would need wrapping for."""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
import types
import typing
from dataclasses import dataclass, field

import yaml

from starrec.errors import StarrecError


class ParamsError(StarrecError, ValueError):
    """params.yaml is malformed: the message names the key and the allowed values."""


@dataclass(frozen=True)
class Range:
    """Allowed numbers: ``low``..``high``, each end closed unless marked open."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def contains(self, value: float) -> bool:
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def __str__(self) -> str:
        low = "-inf" if self.low is None else self.low
        high = "inf" if self.high is None else self.high
        return f"{'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"


def param(default, help: str, *, low=None, high=None, low_open=False, high_open=False, choices=None):
    """A params.yaml key: its default, its help (the comment in params.yaml), its allowed values.

    A numeric key (or each number of a list) must lie in the range; a string
    key with ``choices`` must be one of them.
    """
    metadata = {"help": help, "range": Range(low, high, low_open, high_open), "choices": choices}
    if isinstance(default, list):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def section(cls, help: str):
    """A nested section of params (a dataclass), with the comment written above it."""
    return field(default_factory=cls, metadata={"help": help})


def fail(key: str, message: str) -> typing.NoReturn:
    raise ParamsError(f"params.yaml: {key}: {message}")


def _type_name(annotation) -> str:
    if isinstance(annotation, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return "null"
    origin = typing.get_origin(annotation)
    if origin is list:
        return f"a list of {_type_name(typing.get_args(annotation)[0])}"
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )


def _coerce(key: str, value, annotation):
    """Return ``value`` checked against ``annotation``; ints are accepted for floats."""
    if dataclasses.is_dataclass(annotation):
        return build(annotation, value, key)
    if isinstance(annotation, types.UnionType):
        for option in typing.get_args(annotation):
            try:
                return _coerce(key, value, option)
            except ParamsError:
                continue
        fail(key, f"{value!r}; allowed: {_type_name(annotation)}")
    if annotation is type(None):
        if value is None:
            return None
    elif typing.get_origin(annotation) is list:
        if isinstance(value, list):
            item_type = typing.get_args(annotation)[0]
            return [_coerce(f"{key}[{i}]", item, item_type) for i, item in enumerate(value)]
    elif annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                fail(key, f"{value!r}; allowed: a finite number")
            return float(value)
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(value, annotation):
        return value
    fail(key, f"{value!r}; allowed: {_type_name(annotation)}")


def _check_allowed(key: str, value, metadata) -> None:
    """The field's range (for a number or each number of a list) and choices."""
    allowed: Range | None = metadata.get("range")
    numbers = value if isinstance(value, list) else [value]
    for number in numbers:
        if (
            allowed
            and isinstance(number, (int, float))
            and not isinstance(number, bool)
            and not allowed.contains(number)
        ):
            fail(key, f"{number!r} is out of range; allowed: {allowed}")
    choices = metadata.get("choices")
    if choices and value not in choices:
        fail(key, f"{value!r}; allowed: {', '.join(choices)}")


def build(cls, raw, key: str):
    prefix = f"{key}." if key else ""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        fail(key or "(top level)", "must be a mapping of keys to values")
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(raw) - set(hints))
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(str(name), hints, n=1)
        hint = f" (did you mean {prefix}{close[0]}?)" if close else ""
        fail(f"{prefix}{name}", f"unknown key{hint}; allowed keys: {', '.join(hints)}")
    metadata = {f.name: f.metadata for f in dataclasses.fields(cls)}
    values = {}
    for name in raw:
        values[name] = _coerce(f"{prefix}{name}", raw[name], hints[name])
        _check_allowed(f"{prefix}{name}", values[name], metadata[name])
    instance = cls(**values)
    if hasattr(instance, "validate"):
        instance.validate(key)
    return instance


def _yaml_value(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_value(item) for item in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return yaml.safe_dump(value, default_flow_style=True, width=1000).removesuffix("\n...\n").strip()


def render(instance, indent: str) -> list[str]:
    lines: list[str] = []
    for spec in dataclasses.fields(instance):
        value = getattr(instance, spec.name)
        if dataclasses.is_dataclass(value):
            after_list = lines and lines[-1].lstrip().startswith("- ")  # ruamel (DVC) drops a blank line there
            if not indent and not after_list:
                lines.append("")
            lines.append(f"{indent}{spec.name}:".ljust(28) + f"  # {spec.metadata['help']}")
            lines += render(value, indent + "  ")
        elif value is None or (isinstance(value, list) and value):  # as `dvc exp run -S` writes them
            lines.append(f"{indent}{spec.name}:".ljust(28) + f"  # {spec.metadata['help']}")
            lines += [f"{indent}- {_yaml_value(item)}" for item in value or []]
        else:
            lines.append(f"{indent}{spec.name}: {_yaml_value(value)}".ljust(28) + f"  # {spec.metadata['help']}")
    return lines
