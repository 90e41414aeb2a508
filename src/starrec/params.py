"""Load and validate params.yaml: one frozen dataclass per section.

Every stage calls :func:`load_params` before doing any work, so a typo
(``train.momentun``) or a value out of range stops the run with a message
that names the key and what it accepts.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from starrec.errors import StarrecError


class ParamsError(StarrecError, ValueError):
    """params.yaml is malformed: the message names the key and the allowed values."""


def _fail(key: str, message: str) -> typing.NoReturn:
    raise ParamsError(f"params.yaml: {key}: {message}")


def _check_range(key, value, low=None, high=None, low_open=False, high_open=False):
    if value is None:
        return
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        _fail(key, f"{value!r} is out of range; allowed: {left}{lo}, {hi}{right}")


@dataclass(frozen=True)
class DataParams:
    source: str = "digits"
    sha256: str | None = None
    classes: list[str] | None = None
    max_classes: int | None = None
    min_images_per_class: int = 10
    synthetic_classes: int = 4
    synthetic_per_class: int = 40
    lfw_home: str | None = None

    def validate(self, key):
        if not self.source.strip():
            _fail(f"{key}.source", "is empty; allowed: digits, synthetic, lfw, a folder path or an archive URL")
        if self.sha256 is not None and (
            len(self.sha256) != 64 or any(c not in "0123456789abcdefABCDEF" for c in self.sha256)
        ):
            _fail(f"{key}.sha256", "must be 64 hexadecimal digits or null")
        if self.classes is not None and len(set(self.classes)) != len(self.classes):
            _fail(f"{key}.classes", "names a class twice")
        _check_range(f"{key}.max_classes", self.max_classes, low=1)
        _check_range(f"{key}.min_images_per_class", self.min_images_per_class, low=1)
        _check_range(f"{key}.synthetic_classes", self.synthetic_classes, low=2)
        _check_range(f"{key}.synthetic_per_class", self.synthetic_per_class, low=1)


@dataclass(frozen=True)
class FacesParams:
    detect: bool = False
    cascade: str = "haarcascade_frontalface_alt.xml"
    scale_factor: float = 1.1
    min_neighbors: int = 5
    margin: float = 0.2
    multiple: str = "largest"

    def validate(self, key):
        _check_range(f"{key}.scale_factor", self.scale_factor, low=1.0, low_open=True)
        _check_range(f"{key}.min_neighbors", self.min_neighbors, low=0)
        _check_range(f"{key}.margin", self.margin, low=0.0, high=1.0)
        if self.multiple not in ("largest", "all"):
            _fail(f"{key}.multiple", f"{self.multiple!r}; allowed: largest, all")


@dataclass(frozen=True)
class ImageParams:
    size: int = 32
    shard_size: int = 1000

    def validate(self, key):
        _check_range(f"{key}.size", self.size, low=8, high=512)
        _check_range(f"{key}.shard_size", self.shard_size, low=1)


@dataclass(frozen=True)
class SplitParams:
    train: float = 0.6
    val: float = 0.2
    test: float = 0.2

    def validate(self, key):
        for name in ("train", "val", "test"):
            _check_range(f"{key}.{name}", getattr(self, name), low=0.0, high=1.0)
        if self.train <= 0 or self.test <= 0:
            _fail(key, "train and test must be > 0")
        total = self.train + self.val + self.test
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            _fail(key, f"train + val + test = {total:g}; they must sum to 1")


@dataclass(frozen=True)
class AugmentParams:
    copies: int = 1
    rotation: float = 0.15
    noise: float = 8.0
    flip_left_right: bool = False
    flip_up_down: bool = False
    brightness: float = 0.1
    contrast: list[float] | None = None
    saturation: list[float] | None = None
    hue: float = 0.0
    grayscale: bool = True

    def validate(self, key):
        _check_range(f"{key}.copies", self.copies, low=0, high=100)
        _check_range(f"{key}.rotation", self.rotation, low=0.0, high=math.pi + 1e-6)
        _check_range(f"{key}.noise", self.noise, low=0.0, high=255.0)
        _check_range(f"{key}.brightness", self.brightness, low=0.0, high=1.0)
        _check_range(f"{key}.hue", self.hue, low=0.0, high=0.5)
        for name in ("contrast", "saturation"):
            factors = getattr(self, name)
            if factors is not None and not (len(factors) == 2 and 0 <= factors[0] < factors[1]):
                _fail(f"{key}.{name}", f"{factors!r}; allowed: null or [lower, upper] with 0 <= lower < upper")


@dataclass(frozen=True)
class ModelParams:
    conv_filters: list[int] = field(default_factory=lambda: [32, 64])
    kernel_size: int = 3
    dense_units: list[int] = field(default_factory=lambda: [128])
    dropout: float = 0.3
    l2: float = 1e-4

    def validate(self, key):
        if not self.conv_filters or min(self.conv_filters) < 1:
            _fail(f"{key}.conv_filters", "must be a non-empty list of positive integers")
        if min(self.dense_units, default=1) < 1:
            _fail(f"{key}.dense_units", "must be a list of positive integers")
        _check_range(f"{key}.kernel_size", self.kernel_size, low=1, high=15)
        _check_range(f"{key}.dropout", self.dropout, low=0.0, high=1.0, high_open=True)
        _check_range(f"{key}.l2", self.l2, low=0.0)


@dataclass(frozen=True)
class MomentumSchedule:
    end: float | None = None
    rate: float = 0.9

    def validate(self, key):
        _check_range(f"{key}.end", self.end, low=0.0, high=1.0, high_open=True)
        _check_range(f"{key}.rate", self.rate, low=0.0, high=1.0)


@dataclass(frozen=True)
class TrainParams:
    epochs: int = 15
    batch_size: int | str = 32
    learning_rate: float = 0.05
    lr_decay_rate: float = 0.96
    lr_decay_epochs: int = 20
    momentum: float = 0.9
    nesterov: bool = False
    momentum_schedule: MomentumSchedule = field(default_factory=MomentumSchedule)
    early_stopping_patience: int = 0
    tensorboard: bool = False

    def validate(self, key):
        _check_range(f"{key}.epochs", self.epochs, low=1)
        if isinstance(self.batch_size, str) and self.batch_size != "full":
            _fail(f"{key}.batch_size", f"{self.batch_size!r}; allowed: a positive integer or full")
        if isinstance(self.batch_size, int):
            _check_range(f"{key}.batch_size", self.batch_size, low=1)
        _check_range(f"{key}.learning_rate", self.learning_rate, low=0.0, low_open=True)
        _check_range(f"{key}.lr_decay_rate", self.lr_decay_rate, low=0.0, high=1.0, low_open=True)
        _check_range(f"{key}.lr_decay_epochs", self.lr_decay_epochs, low=1)
        _check_range(f"{key}.momentum", self.momentum, low=0.0, high=1.0, high_open=True)
        _check_range(f"{key}.early_stopping_patience", self.early_stopping_patience, low=0)


@dataclass(frozen=True)
class KFoldParams:
    k: int = 5

    def validate(self, key):
        _check_range(f"{key}.k", self.k, low=2)


@dataclass(frozen=True)
class VisualizeParams:
    images: int = 10
    feature_maps: int = 8

    def validate(self, key):
        _check_range(f"{key}.images", self.images, low=1, high=100)
        _check_range(f"{key}.feature_maps", self.feature_maps, low=1, high=64)


@dataclass(frozen=True)
class Params:
    seed: int = 42
    data: DataParams = field(default_factory=DataParams)
    faces: FacesParams = field(default_factory=FacesParams)
    image: ImageParams = field(default_factory=ImageParams)
    split: SplitParams = field(default_factory=SplitParams)
    augment: AugmentParams = field(default_factory=AugmentParams)
    model: ModelParams = field(default_factory=ModelParams)
    train: TrainParams = field(default_factory=TrainParams)
    kfold: KFoldParams = field(default_factory=KFoldParams)
    visualize: VisualizeParams = field(default_factory=VisualizeParams)

    def validate(self, key):
        _check_range("seed", self.seed, low=0, high=2**31 - 1)


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
        return _build(annotation, value, key)
    if isinstance(annotation, types.UnionType):
        for option in typing.get_args(annotation):
            try:
                return _coerce(key, value, option)
            except ParamsError:
                continue
        _fail(key, f"{value!r}; allowed: {_type_name(annotation)}")
    if annotation is type(None):
        if value is None:
            return None
    elif typing.get_origin(annotation) is list:
        if isinstance(value, list):
            item_type = typing.get_args(annotation)[0]
            return [_coerce(f"{key}[{i}]", item, item_type) for i, item in enumerate(value)]
    elif annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(value, annotation):
        return value
    _fail(key, f"{value!r}; allowed: {_type_name(annotation)}")


def _build(cls, raw, key: str):
    prefix = f"{key}." if key else ""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        _fail(key or "(top level)", "must be a mapping of keys to values")
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(raw) - set(hints))
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(str(name), hints, n=1)
        hint = f" (did you mean {prefix}{close[0]}?)" if close else ""
        _fail(f"{prefix}{name}", f"unknown key{hint}; allowed keys: {', '.join(hints)}")
    values = {name: _coerce(f"{prefix}{name}", raw[name], hints[name]) for name in raw}
    instance = cls(**values)
    instance.validate(key)
    return instance


def parse_params(raw: dict) -> Params:
    """Validate a params mapping (as read from YAML); defaults fill missing keys."""
    return _build(Params, raw, "")


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate ``path``; raise :class:`ParamsError` naming the bad key."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParamsError(f"{path}: not found (run from the repository root)") from None
    except yaml.YAMLError as error:
        raise ParamsError(f"{path}: not valid YAML: {error}") from None
    return parse_params(raw)
