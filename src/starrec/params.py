"""The params schema, in one place: every key's default, type, range and help text.

``params.yaml`` is this schema rendered (:func:`render_params_yaml`, or
``starrec params``; :mod:`starrec.schema` validates and renders); a test keeps their keys and
help identical. Every stage calls
:func:`load_params` before doing any work, so a typo (``train.momentun``), a
value out of range, NaN or infinity stops the run with a message that names
the key and what it accepts.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from starrec.schema import ParamsError as ParamsError  # re-exported: the error of a bad params.yaml
from starrec.schema import build, fail, param, render, section

HEADER = (
    "# Every stage reads this file; src/starrec/params.py defines and validates it\n"
    "# (`starrec params` prints the defaults with these comments).\n"
)


@dataclass(frozen=True)
class DataParams:
    source: str = param("digits", "digits | synthetic | lfw | a folder path | an http(s):// or file:// archive URL")
    sha256: str | None = param(None, "expected checksum of a downloaded archive (null: not checked)")
    require_sha256: bool = param(False, "refuse an archive URL without data.sha256")
    archive_max_bytes: int = param(
        20_000_000_000, "an archive may extract to at most this many bytes", low=1, high=10**15
    )
    archive_max_members: int = param(1_000_000, "... and hold at most this many files", low=1, high=10**9)
    archive_max_ratio: float = param(200.0, "... and at most this many times its own size", low=1.0, high=1e6)
    classes: list[str] | None = param(None, "a list of class names to keep, in this order (null: all)")
    max_classes: int | None = param(None, "keep the K classes with the most images (null: all)", low=1, high=10**6)
    min_images_per_class: int = param(10, "convert fails when a class ends up with fewer images", low=1, high=10**6)
    near_duplicate_rms: float = param(
        2.0, "images of a class whose 16x16 thumbnails differ by at most this RMS (0-255) are one picture", low=0.0
    )
    synthetic_classes: int = param(4, "source: synthetic", low=2, high=1000)
    synthetic_per_class: int = param(40, "source: synthetic", low=1, high=100_000)
    lfw_home: str | None = param(None, "source: lfw; scikit-learn's data home (null: .cache/scikit_learn_data here)")
    unknown_source: str | None = param(
        None, "a folder of photos of people in none of the classes: evaluate counts those it refuses (null: none)"
    )

    def validate(self, key: str) -> None:
        if self.unknown_source is not None and not self.unknown_source.strip():
            fail(f"{key}.unknown_source", "is empty; allowed: a folder of photos, or null")
        if not self.source.strip():
            fail(f"{key}.source", "is empty; allowed: digits, synthetic, lfw, a folder path or an archive URL")
        if self.sha256 is not None and (
            len(self.sha256) != 64 or any(c not in "0123456789abcdefABCDEF" for c in self.sha256)
        ):
            fail(f"{key}.sha256", "must be 64 hexadecimal digits or null")
        if self.classes is not None and len(set(self.classes)) != len(self.classes):
            fail(f"{key}.classes", "names a class twice")


@dataclass(frozen=True)
class FacesParams:
    detect: bool = param(False, "crop faces with OpenCV's Haar cascade")
    cascade: str = param("haarcascade_frontalface_alt.xml", "a file of OpenCV's data folder, or a path")
    scale_factor: float = param(1.1, "Haar detectMultiScale scaleFactor", low=1.0, high=10.0, low_open=True)
    min_neighbors: int = param(5, "Haar detectMultiScale minNeighbors", low=0, high=1000)
    margin: float = param(0.2, "extra border around a face, as a fraction of its size", low=0.0, high=1.0)
    multiple: str = param("largest", "largest | all", choices=("largest", "all"))

    def validate(self, key: str) -> None:
        if self.detect and not _cascade_path(self.cascade).is_file():
            fail(f"{key}.cascade", f"no such cascade {self.cascade!r} (a file of OpenCV's data folder, or a path)")


@dataclass(frozen=True)
class ImageParams:
    size: int = param(32, "140 is the lecture's size (slower: docs/benchmarks.md)", low=8, high=512)
    shard_size: int = param(1000, "images per TFRecord file", low=1, high=10**6)


@dataclass(frozen=True)
class SplitParams:
    train: float = param(0.6, "fraction of each class for training", low=0.0, high=1.0, low_open=True)
    val: float = param(0.2, "fraction for validation", low=0.0, high=1.0)
    test: float = param(0.2, "fraction for the final test", low=0.0, high=1.0, low_open=True)

    def validate(self, key: str) -> None:
        total = self.train + self.val + self.test
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            fail(key, f"train + val + test = {total:g}; they must sum to 1")
        if self.val == 0:  # refused here, not by the train stage two stages later
            fail(
                f"{key}.val",
                "0; the train stage fits the temperature and the 'not sure' threshold on validation images "
                "(and early stopping watches them): give it at least one per class, e.g. 0.1",
            )


def _cascade_path(name: str) -> Path:
    """``name`` itself if it is a file, else the file of that name in OpenCV's data folder."""
    if Path(name).is_file():
        return Path(name)
    import cv2

    return Path(cv2.data.haarcascades) / name  # type: ignore[attr-defined]  # cv2's stubs lack its data module


def _check_factor_range(key: str, factors: list[float] | None) -> None:
    if factors is not None and not (len(factors) == 2 and 0 <= factors[0] < factors[1]):
        fail(key, f"{factors!r}; allowed: null or [lower, upper] with 0 <= lower < upper")


@dataclass(frozen=True)
class AugmentParams:
    copies: int = param(1, "augmented variants added per training image (0: none)", low=0, high=100)
    rotation: float = param(0.15, "max rotation, radians (the lecture's stars: 3.14159)", low=0.0, high=math.pi + 1e-6)
    noise: float = param(8.0, "std of gaussian noise, in pixel units 0-255", low=0.0, high=255.0)
    flip_left_right: bool = param(False, "mirror (the stars: true; digits: no)")
    flip_up_down: bool = param(False, "upside down (the stars: true)")
    brightness: float = param(0.1, "max delta, fraction of 255 (the stars: 0.25)", low=0.0, high=1.0)
    contrast: list[float] | None = param([0.8, 1.2], "random contrast factor range (the stars: [1, 4]); null: off")
    saturation: list[float] | None = param(None, "random saturation factor range (the stars: [0.7, 1.3]); null: off")
    hue: float = param(0.0, "max hue delta (the stars: 0.05)", low=0.0, high=0.5)
    grayscale: bool = param(True, "RGB -> grayscale before normalisation, as in the lecture")

    def validate(self, key: str) -> None:
        _check_factor_range(f"{key}.contrast", self.contrast)
        _check_factor_range(f"{key}.saturation", self.saturation)


@dataclass(frozen=True)
class ModelParams:
    conv_filters: list[int] = param([32, 64], "one conv + max-pool block per entry", low=1, high=4096)
    kernel_size: int = param(3, "conv kernel height and width", low=1, high=15)
    dense_units: list[int] = param([128], "one dense layer per entry", low=1, high=65536)
    dropout: float = param(0.3, "after each dense layer (0 disables)", low=0.0, high=1.0, high_open=True)
    l2: float = param(0.0001, "weight decay on the dense layers (0 disables)", low=0.0, high=100.0)

    def validate(self, key: str) -> None:
        if not self.conv_filters:
            fail(f"{key}.conv_filters", "must be a non-empty list of positive integers")


@dataclass(frozen=True)
class MomentumSchedule:
    end: float | None = param(None, "null: constant momentum", low=0.0, high=1.0, high_open=True)
    rate: float = param(0.9, "decay of (epsilon - end) per epoch", low=0.0, high=1.0)


@dataclass(frozen=True)
class TrainParams:
    epochs: int = param(15, "passes over the training split", low=1, high=100_000)
    batch_size: int | str = param(32, "an integer (1: stochastic) or full (one step per epoch)", low=1, high=2**20)
    learning_rate: float = param(0.02, "alpha at the first step", low=0.0, high=100.0, low_open=True)
    lr_decay_rate: float = param(0.96, "multiply the learning rate by this ...", low=0.0, high=1.0, low_open=True)
    lr_decay_epochs: int = param(
        5, "... every this many epochs (staircase; the lecture: 0.96 every 20)", low=1, high=100_000
    )
    momentum: float = param(
        0.9, "epsilon in: dtheta_t = -alpha dE/dtheta + epsilon dtheta_{t-1}", low=0.0, high=1.0, high_open=True
    )
    nesterov: bool = param(False, "Nesterov's look-ahead momentum")
    momentum_schedule: MomentumSchedule = section(
        MomentumSchedule, "epsilon_e = end + (start - end) * rate^e, start = train.momentum"
    )
    early_stopping_patience: int = param(
        0, "epochs without val_loss improvement before stopping (0: off)", low=0, high=100_000
    )
    precision: str = param(
        "auto",
        "auto (mixed_bfloat16 on a CPU with bfloat16, else float32) | float32 | mixed_bfloat16 | mixed_float16",
        choices=("auto", "float32", "mixed_bfloat16", "mixed_float16"),
    )
    distribute: str = param(
        "none",
        "none | mirrored (every local GPU) | multi_worker (the workers in TF_CONFIG; docs/many-machines.md)",
        choices=("none", "mirrored", "multi_worker"),
    )

    def validate(self, key: str) -> None:
        if isinstance(self.batch_size, str) and self.batch_size != "full":
            fail(f"{key}.batch_size", f"{self.batch_size!r}; allowed: a positive integer or full")


@dataclass(frozen=True)
class RuntimeParams:
    """How the stages run, never what they compute: no stage lists these keys in dvc.yaml, so changing one
    re-runs nothing (the resume and cache tests show the results are the same)."""

    backup_every_s: float = param(
        60.0, "least seconds between two backups of the training state (0: after every epoch)", low=0.0, high=1e9
    )
    cache: str = param(
        "auto",
        "training pixels kept after their first pass: auto (in memory up to 2 GiB, else none) | memory | disk | none",
        choices=("auto", "memory", "disk", "none"),
    )
    tensorboard: bool = param(False, "write TensorBoard logs of the train stage to logs/")


UNTRACKED = "runtime"
"""The params section no stage depends on (:class:`RuntimeParams`)."""

MOVED = {f"train.{name}": f"{UNTRACKED}.{name}" for name in ("backup_every_s", "cache", "tensorboard")}
"""Keys of starrec 0.2 and where they are now: still read (for one release), with a note from check_params."""


@dataclass(frozen=True)
class KFoldParams:
    k: int = param(5, "10 is the gold standard; k = number of examples is LOOCV", low=2, high=10**6)
    parts: list[int] = param(
        [0],
        "one stage fold@P per entry, training every n-th fold: [0] (one process, fewest start-ups) or "
        "[0, 1, ..., n-1] to share them between machines (docs/many-machines.md)",
        low=0,
        high=1023,
    )

    def validate(self, key: str) -> None:
        if not self.parts or self.parts != list(range(len(self.parts))):
            fail(f"{key}.parts", f"{self.parts}; must be [0, 1, ..., n-1] for n >= 1 parts, e.g. [0, 1, 2]")


@dataclass(frozen=True)
class CalibrationParams:
    temperature: bool = param(
        True, "fit one temperature T on the validation split (its NLL; Guo et al. 2017): softmax(logits / T)"
    )
    bins: int = param(15, "equal-width confidence bins of the expected calibration error (ECE)", low=1, high=1000)
    target_error: float = param(
        0.05, "the error allowed among answered photos: min_confidence auto meets it on validation", low=0.0, high=1.0
    )
    min_confidence: float | str = param(
        "auto",
        "under this top probability predict and serve answer 'not sure' (auto: the least that meets target_error)",
        low=0.0,
        high=1.0,
    )

    def validate(self, key: str) -> None:
        if isinstance(self.min_confidence, str) and self.min_confidence != "auto":
            fail(f"{key}.min_confidence", f"{self.min_confidence!r}; allowed: auto or a number from 0 to 1")


@dataclass(frozen=True)
class EvaluateParams:
    bootstrap_resamples: int = param(
        1000, "resamples of the test images for the macro scores' 95 % intervals", low=100, high=1_000_000
    )


@dataclass(frozen=True)
class BaselineParams:
    pca_components: int | str = param(
        "auto",
        "eigenfaces: principal components kept (whitened) for the SVC; auto: 100, fewer on small data",
        low=1,
        high=100_000,
    )
    svc_c: float = param(10.0, "eigenfaces: C of the RBF support vector classifier", low=0.0, high=1e6, low_open=True)
    logistic_c: float = param(1.0, "logistic regression: C, the inverse L2 strength", low=0.0, high=1e6, low_open=True)

    def validate(self, key: str) -> None:
        if isinstance(self.pca_components, str) and self.pca_components != "auto":
            fail(f"{key}.pca_components", f"{self.pca_components!r}; allowed: a positive integer or auto")


@dataclass(frozen=True)
class ExportParams:
    quantize: str = param(
        "none",
        "also a smaller LiteRT model: dynamic (int8 weights) | int8 (weights and activations) | none",
        choices=("none", "dynamic", "int8"),
    )
    calibration_images: int = param(200, "int8: training images that set the activation ranges", low=1, high=100_000)


@dataclass(frozen=True)
class VisualizeParams:
    images: int = param(10, "test images to look inside (at least one per class)", low=1, high=100)
    feature_maps: int = param(8, "channels shown per conv layer", low=1, high=64)


def _check_range(key: str, bounds: list[float] | None) -> None:
    if bounds is not None and not (len(bounds) == 2 and bounds[0] < bounds[1]):
        fail(key, f"{bounds!r}; allowed: null (not searched) or [low, high] with low < high")


@dataclass(frozen=True)
class TuneParams:
    trials: int = param(
        8, "finished trials (complete or pruned) the search runs to; raise it to extend a search", low=1, high=100_000
    )
    timeout: float | None = param(
        None, "seconds after which no new trial starts (null: no limit)", low=0.0, low_open=True
    )
    sampler: str = param("tpe", "tpe | random | grid (grid_points values per range)", choices=("tpe", "random", "grid"))
    grid_points: int = param(3, "sampler grid: values per searched range", low=2, high=100)
    pruner: str = param(
        "median",
        "median (stop a trial whose running fold mean is below the median) | hyperband | none",
        choices=("median", "hyperband", "none"),
    )
    storage: str | None = param(
        None, "null: a journal file in .backup/tune (one process); or a database URL that workers share"
    )
    momentum: list[float] | None = param(
        [0.5, 0.99], "range searched for train.momentum (null: not searched)", low=0.0, high=1.0, high_open=True
    )
    momentum_end: list[float] | None = param(
        [0.0, 0.9], "... for train.momentum_schedule.end", low=0.0, high=1.0, high_open=True
    )
    momentum_rate: list[float] | None = param(
        [0.5, 1.0], "... for train.momentum_schedule.rate (1: constant momentum)", low=0.0, high=1.0
    )
    learning_rate: list[float] | None = param(
        [0.002, 0.1], "... for train.learning_rate (log scale)", low=0.0, high=100.0, low_open=True
    )
    dropout: list[float] | None = param(None, "... for model.dropout", low=0.0, high=1.0, high_open=True)
    batch_size: list[int] | None = param(
        None, "choices for train.batch_size, e.g. [16, 32, 64] (null: not searched)", low=1, high=2**20
    )
    nested_folds: int = param(
        0, "outer folds of a nested cross validation around the search (0: off; small data)", low=0, high=100
    )

    def validate(self, key: str) -> None:
        for name in SEARCHED:
            if name in CHOICE_RANGES:
                continue
            _check_range(f"{key}.{name}", getattr(self, name))
        if self.batch_size is not None and (not self.batch_size or len(set(self.batch_size)) != len(self.batch_size)):
            fail(f"{key}.batch_size", f"{self.batch_size!r}; allowed: null or a list of distinct batch sizes")
        if not any(getattr(self, name) is not None for name in SEARCHED):
            fail(key, f"searches nothing; give a range to at least one of {', '.join(SEARCHED)}")
        if self.storage is not None and holds_password(self.storage):
            fail(
                f"{key}.storage",
                "holds a password, which dvc.lock and git would keep; leave it out and use PGPASSWORD or ~/.pgpass",
            )
        if self.nested_folds == 1:
            fail(f"{key}.nested_folds", "1; allowed: 0 (off) or at least 2 outer folds")


PASSWORD_QUERY_KEYS = frozenset({"password", "passwd", "pwd"})
"""Query keys that carry a password in database URLs (libpq's ``password=``, drivers' ``passwd``/``pwd``)."""


def holds_password(url: str) -> bool:
    """Whether ``url`` carries a password: in its user part (``u:secret@``) or its query (``?password=``)."""
    parts = urlsplit(url)
    return parts.password is not None or bool(PASSWORD_QUERY_KEYS & {key.lower() for key in parse_qs(parts.query)})


SEARCHED_KEYS = {
    "train.momentum": "momentum",
    "train.momentum_schedule.end": "momentum_end",
    "train.momentum_schedule.rate": "momentum_rate",
    "train.learning_rate": "learning_rate",
    "model.dropout": "dropout",
    "train.batch_size": "batch_size",
}
"""Each params key the search can vary and the ``tune.*`` field that holds its range: the one list of them."""
SEARCHED = tuple(SEARCHED_KEYS.values())
CHOICE_RANGES = {"batch_size"}
"""``tune.*`` fields that list choices, not a [low, high] range."""


@dataclass(frozen=True)
class LearningCurveParams:
    fractions: list[float] = param(
        [0.1, 0.25, 0.5, 1.0],
        "of each fold's training part: one K-fold run per fraction",
        low=0.0,
        high=1.0,
        low_open=True,
    )
    target_accuracy: float = param(
        0.95, "high bias: the training accuracy of all the data stays below this", low=0.0, high=1.0
    )
    max_gap: float = param(0.05, "high variance: training minus validation accuracy exceeds this", low=0.0, high=1.0)

    def validate(self, key: str) -> None:
        if not self.fractions or self.fractions != sorted(set(self.fractions)):
            fail(f"{key}.fractions", f"{self.fractions!r}; allowed: increasing fractions in (0, 1]")


@dataclass(frozen=True)
class Params:
    seed: int = param(42, "seeds every random choice: split, folds, augmentation, weights", low=0, high=2**31 - 1)
    data: DataParams = section(DataParams, "where the images come from, and which classes to keep")
    faces: FacesParams = section(FacesParams, "face crops (convert and predict)")
    image: ImageParams = section(ImageParams, "the size every image is resized to")
    split: SplitParams = section(SplitParams, "per class, stratified; identical files stay in one split")
    augment: AugmentParams = section(AugmentParams, "training images only; reproducible (stateless random ops)")
    model: ModelParams = section(ModelParams, "the CNN")
    train: TrainParams = section(TrainParams, "SGD with momentum, as in the lecture")
    kfold: KFoldParams = section(KFoldParams, "stratified K-fold cross validation over train + val")
    calibration: CalibrationParams = section(
        CalibrationParams, "probabilities that mean what they say: 0.8 right 80 % of the time (docs/metrics.md)"
    )
    evaluate: EvaluateParams = section(EvaluateParams, "the final test: scores with 95 % confidence intervals")
    baseline: BaselineParams = section(BaselineParams, "classic methods on the CNN's split and input (stage baseline)")
    export: ExportParams = section(ExportParams, "portable copies of the model (stage export)")
    visualize: VisualizeParams = section(VisualizeParams, "what the network sees")
    learning_curve: LearningCurveParams = section(
        LearningCurveParams, "bias or variance? K-fold scores by training-set size (tune/dvc.yaml)"
    )
    tune: TuneParams = section(
        TuneParams, "search by K-fold (tune/dvc.yaml; docs/tuning.md): ranges of the lecture's knobs"
    )
    runtime: RuntimeParams = section(
        RuntimeParams, "how the stages run, not what they compute: changing it re-runs nothing"
    )

    def validate(self, key: str) -> None:
        blocks = len(self.model.conv_filters)
        if self.image.size >> blocks < 1:
            fail(
                "model.conv_filters",
                f"{blocks} conv + max-pool blocks halve image.size = {self.image.size} to nothing; "
                f"use at most {self.image.size.bit_length() - 1} blocks or a larger image.size",
            )


def parse_params(raw: dict) -> Params:
    """Validate a params mapping (as read from YAML); defaults fill missing keys; :data:`MOVED` keys are read
    where they are now."""
    return build(Params, moved(raw)[0], "")


def moved(raw: dict) -> tuple[dict, list[str]]:
    """``raw`` with each :data:`MOVED` key at its new place (a value given there too wins), and a note for each."""
    raw, notes = {**raw, **{name: dict(value) for name, value in raw.items() if isinstance(value, dict)}}, []
    for old, new in MOVED.items():
        section, key = old.split(".")
        if isinstance(raw.get(section), dict) and key in raw[section]:
            value = raw[section].pop(key)
            target_section, target = new.split(".")
            if raw.get(target_section) is None:
                raw[target_section] = {}
            if isinstance(raw[target_section], dict):
                raw[target_section].setdefault(target, value)
            notes.append(f"{old} is now {new} (it re-runs no stage); move it in params.yaml")
    return raw, notes


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate ``path``; raise :class:`ParamsError` naming the bad key."""
    path = Path(path)
    try:
        raw = read_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParamsError(f"{path}: not found (run from the repository root)") from None
    except IsADirectoryError:
        raise ParamsError(f"{path}: a directory, not a params file") from None
    except UnicodeDecodeError:
        raise ParamsError(f"{path}: not text (UTF-8); `starrec params > {path}` writes the defaults") from None
    except yaml.YAMLError as error:
        raise ParamsError(f"{path}: not valid YAML: {' '.join(str(error).split())}") from None
    if not isinstance(raw, dict):  # DVC reads nothing else: an empty file has no `kfold.parts` for the fold stages
        raise ParamsError(
            f"{path}: must be a mapping of sections to values; `starrec params > {path}` writes the defaults"
        )
    return parse_params(raw)


def moved_keys_notes(path: str | Path = "params.yaml") -> list[str]:
    """A note for each key of ``path`` that :data:`MOVED` names (check_params prints them)."""
    raw = read_yaml(Path(path).read_text(encoding="utf-8"))
    return moved(raw)[1] if isinstance(raw, dict) else []


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping as DVC does ("structure is corrupted")."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"{key!r} appears twice (DVC cannot read such a file)", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_implicit_resolver(  # PyYAML copies the resolvers for the subclass: SafeLoader is unchanged
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789")
)
"""YAML 1.2's floats without a dot or an exponent sign (``1e-300``, ``1.0e10``), as DVC reads them (ruamel.yaml);
PyYAML's YAML 1.1 reads them as text, so ``-S train.learning_rate=1e-3`` was "not a number"."""


def read_yaml(text: str) -> Any:
    """A YAML text as DVC reads params.yaml: 1.2's floats, and a key given twice refused."""
    return yaml.load(text, Loader=_UniqueKeyLoader)


def render_params_yaml(params: Params | None = None) -> str:
    """``params`` (default: the defaults) as params.yaml text, each key with its help comment."""
    return HEADER + "\n".join(render(params or Params(), "")) + "\n"
