"""Every file the pipeline reads or writes, declared once: its path (relative to the repository root, as
dvc.yaml and tune/dvc.yaml name it) and, for the JSON files that other code reads back, its schema.

No other module spells a pipeline file's name: they use these constants (a function's own ``directory``
argument takes the name with ``.name``). tests/test_artifacts.py checks both pipeline files' ``outs``,
``metrics`` and ``plots`` against this module and greps the code for names spelled elsewhere. The schemas
are :class:`typing.TypedDict` s, so mypy checks every key a reader uses; :func:`read_json` reads one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypedDict, TypeVar, cast, get_origin, is_typeddict

from starrec.errors import MissingInput, StarrecError

PARAMS = Path("params.yaml")

# stage download
RAW = Path("data/raw")
RENAMED = RAW / "renamed.csv"  # files whose names were not valid UTF-8: stored name, original, reason

# stage convert
INTERIM = Path("data/interim")
RECORDS = INTERIM / "records"
MANIFEST = INTERIM / "manifest.csv"
REJECTED = INTERIM / "rejected.csv"
CLASSES = INTERIM / "classes.json"  # the class names in label order

# stage split
SPLIT = Path("data/processed/split")
TRAIN_SPLIT, VAL_SPLIT, TEST_SPLIT = SPLIT / "train", SPLIT / "val", SPLIT / "test"
SPLIT_COUNTS = Path("metrics/split_counts.json")

# stage augment
AUGMENTED = Path("data/processed/augmented")
AUGMENTED_TRAIN = AUGMENTED / "train"
NORMALIZATION = AUGMENTED / "normalization.json"

# stage train
MODEL = Path("models/model.keras")
METRICS = Path("metrics")
TRAIN_LIVE = METRICS / "train"  # dvclive: metrics.json and plots/metrics/{train,eval}/*.tsv
TRAIN_MACHINE = METRICS / "train_machine.json"  # the CPU and precision of the training (starrec summary)

# stages fold@P and kfold
KFOLD_PARTS = Path("data/kfold")
KFOLD = METRICS / "kfold.json"


def kfold_part(part: int, folder: Path = KFOLD_PARTS) -> Path:
    """The folds of stage fold@``part``."""
    return folder / f"part-{part}.json"


# stage evaluate
TEST = METRICS / "test.json"
PER_CLASS = METRICS / "per_class.json"
CALIBRATION = METRICS / "calibration.json"  # ECE and NLL as served and at T = 1, with intervals
PREDICTIONS = METRICS / "predictions.csv"
PLOTS = METRICS / "plots"
PLOT_NAMES = ("confusion", "per_class", "roc", "precision_recall", "reliability", "risk_coverage")


def plot(name: str) -> Path:
    """The plot data file of evaluate's plot ``name`` (one of :data:`PLOT_NAMES`)."""
    if name not in PLOT_NAMES:
        raise ValueError(f"{name}: not one of the evaluate stage's plots {PLOT_NAMES}")
    return PLOTS / f"{name}.json"


# the headline that `dvc metrics show` and `dvc exp show` print (docs/metrics.md): the test split's scores as
# accuracy and f1_macro, the K-fold means as kfold.accuracy and kfold.f1_macro. Same names would share a column
# in metrics show, but `dvc exp show` then prefixes each with its path: 120 columns hold these four.
SCORES = METRICS / "scores"
SCORES_TEST = SCORES / "test.json"  # stage evaluate
SCORES_KFOLD = SCORES / "kfold.json"  # stage kfold


def test_headline(report: dict) -> dict[str, float]:
    """metrics/scores/test.json from metrics/test.json: accuracy and f1_macro."""
    return {"accuracy": report["accuracy"], "f1_macro": report["f1_macro"]}


def kfold_headline(report: dict) -> dict[str, dict[str, float]]:
    """metrics/scores/kfold.json from metrics/kfold.json: the folds' mean accuracy and f1_macro."""
    return {"kfold": {"accuracy": report["accuracy"]["mean"], "f1_macro": report["f1_macro"]["mean"]}}


# stages baseline, export, card, visualize
BASELINE = METRICS / "baseline.json"
EXPORT = Path("models/export")  # saved_model/, model.onnx, model.tflite, starrec.json
EXPORT_CHECK = METRICS / "export.json"
MODEL_CARD = Path("models/model_card.md")
VISUALS = Path("visuals")
VISUAL_RANGES = METRICS / "visual_ranges.json"  # min and max of each conv layer's activations and gradients

# tune/dvc.yaml: stages tune and learning_curve
TUNE = METRICS / "tune.json"
TUNE_PLOTS = METRICS / "tune"
TUNE_HISTORY = TUNE_PLOTS / "history.json"  # trial by trial
TUNE_IMPORTANCE = TUNE_PLOTS / "importance.json"  # each searched param's
LEARNING_CURVE = METRICS / "learning_curve.json"
LEARNING_CURVE_PLOTS = METRICS / "learning_curve"
LEARNING_CURVE_PLOT = LEARNING_CURVE_PLOTS / "points.json"

# not the pipeline's outputs: working files (git- and DVC-ignored)
TENSORBOARD = Path("logs")
BACKUPS = Path(".backup")  # per-epoch backups of unfinished runs
TRAIN_LIVE_PARTIAL = BACKUPS / "live" / "train"  # dvclive's files while train runs (moved to TRAIN_LIVE at its end)
TUNE_STUDY = BACKUPS / "tune"  # the search's Optuna journal (tune.storage null) and its trials' finished folds
SCIKIT_LEARN_DATA = Path(".cache/scikit_learn_data")  # LFW, per checkout: no two experiments share it


class Interval(TypedDict):
    low: float
    high: float


class Estimate(TypedDict):
    """A score with its 95 % interval (the percentile bootstrap)."""

    value: float
    ci95: Interval


class Proportion(TypedDict):
    """A proportion with Wilson's 95 % interval; both null where nothing was counted."""

    value: float | None
    ci95: Interval | None


class TestReport(TypedDict):
    """metrics/test.json: the headline scores on the test split (docs/metrics.md)."""

    n_examples: int
    accuracy: float
    f1_macro: float
    ci95: dict[str, Interval]  # accuracy, f1_macro
    ece: float
    ece_uncalibrated: float


class MeanStd(TypedDict):
    mean: float
    std: float


class KFoldReport(TypedDict):
    """metrics/kfold.json: the K folds' scores, their mean ± std and the pooled out-of-fold scores."""

    k: int
    accuracy: MeanStd
    f1_macro: MeanStd
    folds: list[dict[str, Any]]


class Selective(TypedDict):
    min_confidence: float
    answered: int
    coverage: Proportion
    risk: Proportion


class CalibrationReport(TypedDict, total=False):
    """metrics/calibration.json; ``noise`` and ``unknown`` only where they were measured."""

    n_examples: int
    temperature: float
    bins: int
    ece: Estimate
    ece_uncalibrated: Estimate
    nll: float
    nll_uncalibrated: float
    selective: Selective
    noise: dict[str, float]
    unknown: dict[str, Any]


class TrainMachine(TypedDict, total=False):
    """metrics/train_machine.json: where and how long the model trained (``seconds``, ``finished`` since 0.3)."""

    cpu: str
    precision: str
    seconds: float
    finished: str


class ExportReport(TypedDict, total=False):
    """metrics/export.json: each export's largest probability difference from Keras, latency and size."""

    max_abs_difference: dict[str, float]
    latency_ms: dict[str, float]
    bytes: dict[str, int]
    latency_runs: int
    top1_agreement: float
    quantized: dict[str, Any]


SplitCount = TypedDict("SplitCount", {"split": str, "class": str, "count": int})
"""A row of metrics/split_counts.json (``class`` is a Python keyword: hence this form)."""


T = TypeVar("T")


def restore_hint(path: Path | str) -> str:
    """How to get a pipeline file back: metrics/ is kept in git (``cache: false``), the rest in DVC's cache."""
    kept_in_git = Path(path).parts[:1] == METRICS.parts
    return f"`git checkout -- {path}`" if kept_in_git else f"`dvc checkout {path}`"


def read_json(path: Path, schema: type[T]) -> T:
    """``path`` as the ``schema`` type says it is (mypy checks the keys; at run time only its JSON kind, an
    object or a list, is checked). One line (MissingInput, StarrecError) naming the file if it is missing,
    not JSON or not of that kind."""
    if not path.is_file():
        raise MissingInput(f"{path}: missing; run `dvc repro` first")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise StarrecError(f"{path}: not valid JSON ({error}); {restore_hint(path)} or re-run its stage") from None
    kind = dict if is_typeddict(schema) else get_origin(schema) or schema
    if isinstance(kind, type) and issubclass(kind, (dict, list)) and not isinstance(content, kind):
        raise StarrecError(f"{path}: not a JSON {'object' if issubclass(kind, dict) else 'list'}; {restore_hint(path)}")
    return cast(T, content)


def read_optional(path: Path, schema: type[T]) -> T | None:
    """:func:`read_json`, or None for a file that a run from before it lacks."""
    return read_json(path, schema) if path.is_file() else None
