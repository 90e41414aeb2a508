"""The model card (stage card -> models/model_card.md): what the model is for and not for, its data, its
scores with their intervals beside the baselines, its weakest classes, its limits and the consent it needs,
written from this run's params and metrics files (after Mitchell et al., "Model Cards for Model
Reporting", 2019). Every name from the data is escaped (:func:`starrec.evaluation.formatting.markdown_text`)."""

from __future__ import annotations

import importlib.metadata
import json
import platform
import subprocess
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import yaml

from starrec import artifacts
from starrec.artifacts import (
    CalibrationReport,
    ExportReport,
    KFoldReport,
    Proportion,
    SplitCount,
    TestReport,
    TrainMachine,
    read_json,
    read_optional,
)
from starrec.evaluation.formatting import markdown_table, markdown_text, mean_std, score, with_interval
from starrec.model_info import INFO_NAME, parse_model_info
from starrec.params import AugmentParams, DataParams, FacesParams, ModelParams, TrainParams

WEAKEST = 3
"""Classes listed as the weakest (lowest F1 on the test split)."""
NOT_PEOPLE = {
    "digits": "scikit-learn's handwritten digits, 8x8 pixels upscaled, the offline default",
    "synthetic": "generated pictures of coloured stripes",
}
"""Sources whose classes are not people: the card says so first."""


@dataclass(frozen=True)
class CardInputs:
    """What a card reads from one run: metrics/test.json, kfold.json, baseline.json, per_class.json,
    split_counts.json; calibration.json, train_machine.json and export.json (None for a run before them);
    and from the model file the precision it was trained in and the starrec version."""

    test: TestReport
    kfold: KFoldReport
    baseline: dict
    per_class: dict
    split_counts: list[SplitCount]
    precision: str
    version: str
    calibration: CalibrationReport | None = None
    machine: TrainMachine | None = None
    export: ExportReport | None = None


@dataclass(frozen=True)
class Provenance:
    """Where a model came from: the git commit the pipeline ran at, the data's DVC hash (dvc.lock's
    ``data/raw``) and the versions of the libraries that trained and exported it ("unknown" where absent)."""

    commit: str
    data_hash: str
    versions: dict[str, str]


LIBRARIES = {
    "python": (),
    "tensorflow": ("tensorflow", "tensorflow-cpu"),
    "keras": ("keras",),
    "numpy": ("numpy",),
    "onnxruntime": ("onnxruntime",),
    "ai-edge-litert": ("ai-edge-litert",),
    "dvc": ("dvc",),
}
"""The card's library versions: each name and the distributions that provide it (the first installed wins)."""


def provenance(lock: Path = Path("dvc.lock"), cwd: Path = Path()) -> Provenance:
    """This workspace's :class:`Provenance`, read without TensorFlow: ``git rev-parse HEAD``, the md5 of
    ``data/raw`` in ``lock`` and installed distributions' metadata."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True)
        commit = done.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return Provenance(commit, data_hash(lock), {name: library_version(name) for name in LIBRARIES})


def data_hash(lock: Path) -> str:
    """The md5 DVC recorded for ``data/raw`` (stage download) in ``lock``; "unknown" without one."""
    try:
        stages = yaml.safe_load(lock.read_text(encoding="utf-8"))["stages"]
        return next(out["md5"] for out in stages["download"]["outs"] if out["path"] == str(artifacts.RAW))
    except (OSError, KeyError, TypeError, StopIteration, yaml.YAMLError):
        return "unknown"


def library_version(name: str) -> str:
    """The installed version of :data:`LIBRARIES` ``name`` (Python's own for ``python``), or "not installed"."""
    if name == "python":
        return platform.python_version()
    for distribution in LIBRARIES[name]:
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "not installed"


def read_run(model: Path = artifacts.MODEL) -> CardInputs:
    """This workspace's metrics files and the precision of ``model``; MissingInput names a missing one."""
    test, kfold = read_json(artifacts.TEST, TestReport), read_json(artifacts.KFOLD, KFoldReport)
    baseline, per_class = read_json(artifacts.BASELINE, dict), read_json(artifacts.PER_CLASS, dict)
    split_counts = read_json(artifacts.SPLIT_COUNTS, list[SplitCount])
    precision, version = model_facts(model)
    return CardInputs(
        test,
        kfold,
        baseline,
        per_class,
        split_counts,
        precision,
        version,
        read_optional(artifacts.CALIBRATION, CalibrationReport),
        read_optional(artifacts.TRAIN_MACHINE, TrainMachine),
        read_optional(artifacts.EXPORT_CHECK, ExportReport),
    )


def model_facts(model: Path) -> tuple[str, str]:
    """(precision, starrec version) of a .keras model, read from its zip without TensorFlow. The precision is
    its layers' dtype policy (config.json): ``mixed_bfloat16`` or ``mixed_float16`` if any layer computes in
    it, else ``float32``; the version is its starrec.json's."""
    with zipfile.ZipFile(model) as bundle:
        config, version = json.loads(bundle.read("config.json")), parse_model_info(bundle.read(INFO_NAME)).version
    policies = Counter(
        layer["config"]["dtype"]["config"]["name"]
        for layer in config["config"]["layers"]
        if isinstance(layer["config"].get("dtype"), dict)
    )
    return next((name for name in ("mixed_bfloat16", "mixed_float16") if policies[name]), "float32"), version


def weakest_classes(per_class: dict, count: int = WEAKEST) -> list[tuple[str, dict]]:
    """The ``count`` classes of lowest F1 (then lowest recall, then by name), weakest first; an undefined
    score (null: a class never predicted has no precision, so no F1) counts as the lowest."""
    classes = [(name, scores) for name, scores in per_class.items() if name != "macro avg"]

    def rank(item: tuple[str, dict]) -> tuple:
        name, scores = item
        return (*(-1.0 if scores[key] is None else scores[key] for key in ("f1", "recall")), name)

    return sorted(classes, key=rank)[:count]


def calibration_line(calibration: CalibrationReport) -> str:
    """The probabilities' temperature, expected calibration error and "not sure" threshold
    (metrics/calibration.json), in words."""
    ece, before, temperature = calibration["ece"], calibration["ece_uncalibrated"], calibration["temperature"]
    if temperature == 1.0:  # what calibration.temperature: false leaves; a fitted T is never exactly 1
        how = "T = 1: not fitted (calibration.temperature: false)"
    else:
        how = f"T = {temperature:.3f}, fitted on the validation split (temperature scaling, Guo et al. 2017)"
    if ece["ci95"]["high"] <= WELL_CALIBRATED:
        meaning = "a probability of 0.9 is right about 90 % of the time on photos like the test split's"
    else:
        meaning = (
            f"a probability is {ece['value']:.2f} off how often it is right, on average: read 0.9 as more "
            "sure than 0.6, not as right 90 % of the time"
        )
    return (
        f"Probabilities: softmax(logits / T) with {how}. Expected calibration error on the test split "
        f"({calibration['bins']} bins, 95 % bootstrap interval): {ece['value']:.4f} "
        f"[{ece['ci95']['low']:.4f}, {ece['ci95']['high']:.4f}] as served, {before['value']:.4f} "
        f"[{before['ci95']['low']:.4f}, {before['ci95']['high']:.4f}] at T = 1: {meaning}."
        + _selective_words(calibration)
    )


WELL_CALIBRATED = 0.05
"""The highest ECE (the upper end of its interval) at which the card says a probability means what it says."""


def _selective_words(calibration: CalibrationReport) -> str:
    """What the model answers "not sure" to: its min_confidence, the test split's coverage and error there."""
    chosen = calibration.get("selective")
    if not chosen:
        return ""
    coverage, risk = chosen["coverage"], chosen["risk"]
    words = (
        f" Under a top probability of {chosen['min_confidence']:.4f} (calibration.min_confidence) it answers "
        f'"not sure" with its closest classes: on the test split it answered {_percent(coverage)} of the photos'
    )
    words += f", with an error of {_percent(risk)} among them." if risk["value"] is not None else "; none."
    if "noise" in calibration:
        noise = calibration["noise"]
        words += f" It refused {100 * noise['refused']:.1f} % of {noise['images']} images of random noise."
    if "unknown" in calibration:
        unknown = calibration["unknown"]
        words += (
            f" Of {unknown['images']} faces of people in none of its classes (`data.unknown_source`) it refused "
            f"{_percent(unknown['refused'])}."
        )
    return words


def _percent(score: Proportion) -> str:
    """``12.3 % [8.1, 17.0 %]``: a proportion and its Wilson interval ("undefined" where nothing was counted)."""
    value, interval = score["value"], score["ci95"]
    if value is None or interval is None:
        return "undefined"
    return f"{100 * value:.1f} % [{100 * interval['low']:.1f}, {100 * interval['high']:.1f} %]"


def class_counts(split_counts: list[SplitCount]) -> dict[str, dict[str, int]]:
    """{class: {split: images}} of metrics/split_counts.json, classes in its order."""
    counts: dict[str, dict[str, int]] = {}
    for row in split_counts:
        counts.setdefault(row["class"], {})[row["split"]] = row["count"]
    return counts


def model_card(
    run: CardInputs,
    data: DataParams,
    faces: FacesParams,
    image_size: int,
    augment: AugmentParams,
    model: ModelParams,
    train: TrainParams,
    origin: Provenance | None = None,
) -> str:
    """The card as Markdown after a YAML front-matter (:func:`front_matter`); names from the data and params
    are escaped, never put in code spans (where Markdown would show an entity as typed)."""
    counts = class_counts(run.split_counts)
    n_classes, test = len(counts), run.test
    source = markdown_text(data.source)
    kind = NOT_PEOPLE.get(data.source)
    sections = [
        front_matter(run, data, faces),
        "# Model card: star-recognizer",
        f"Trained by starrec {markdown_text(run.version)}; written by `dvc repro card` from this run's params.yaml "
        "and metrics files, so every number below is this run's.",
    ]
    if kind:
        sections.append(
            f"**This model was trained on `data.source` {source}, {kind}: its classes are not people.** "
            "Set `data.source` to your own photos (README: Your own photos) before any use on faces."
        )
    grayscale = "converted to grayscale, " if augment.grayscale else ""
    sections += [
        "## Model",
        f"A Keras CNN: {len(model.conv_filters)} convolution blocks of {model.conv_filters} filters "
        f"({model.kernel_size}x{model.kernel_size}, each with 2x2 max-pooling), dense layers {model.dense_units}, "
        f"dropout {model.dropout:g}, a softmax over {n_classes} classes. Input: an RGB image resized to "
        f"{image_size}x{image_size} pixels, {grayscale}normalised inside the model. Trained with SGD, learning "
        f"rate {train.learning_rate:g}, momentum {train.momentum:g}, batch size {train.batch_size}, "
        f"{train.epochs} epochs, in {run.precision}. Files: `{artifacts.MODEL}` (registry entry "
        f"`{MODEL_NAME}`), `{artifacts.EXPORT}/` (SavedModel, ONNX, LiteRT; entry `{MODEL_NAME}-exports`).",
        "## Intended use",
        f"- Telling which of the {n_classes} classes it was trained on a photo shows, in `starrec predict`, "
        "`starrec serve` or your own code, for people who agreed to be recognised.\n"
        "- Teaching and studying the machine-learning workflow: data, training, cross validation, metrics.",
        "It is a closed-set classifier: every photo gets one of its classes. A person it has never seen is "
        "given the most similar known class, sometimes with a high probability; under its min_confidence it says "
        '"not sure", but it cannot say "unknown" and it does not verify anyone\'s identity.',
        "## Not for",
        "- identifying, tracking or profiling people who have not agreed to it; surveillance;\n"
        "- any decision about a person (access, employment, policing, credit, health);\n"
        "- people outside its classes, or photos unlike its training data (light, pose, age, camera, crop).",
        how_to_use(image_size, faces),
        "## Data",
        f"`data.source` {source}{f', {kind}' if kind else ''}: {sum(sum(c.values()) for c in counts.values())} "
        f"images in {n_classes} classes, split per class (train / val / test):",
        markdown_table(
            ["class", "train", "val", "test"],
            [
                [markdown_text(name), *(str(split.get(part, 0)) for part in ("train", "val", "test"))]
                for name, split in counts.items()
            ],
        ),
        face_settings(faces),
        "## Performance",
        f"On the test split ({test['n_examples']} images, never used for training or choices), with 95 % "
        "intervals (accuracy: Wilson's score interval; macro F1: percentile bootstrap), beside two classic "
        "baselines on the same split and input (stage baseline):",
        markdown_table(
            ["model", "accuracy [95 % interval]", "macro F1 [95 % interval]"],
            [["this CNN", with_interval(test, "accuracy"), with_interval(test, "f1_macro")]]
            + [
                [
                    markdown_text(name.replace("_", " ")),
                    with_interval(scores, "accuracy"),
                    with_interval(scores, "f1_macro"),
                ]
                for name, scores in run.baseline.items()
            ],
        ),
        folds_line(run.kfold),
        *([calibration_line(run.calibration)] if run.calibration else []),
        "## Weakest classes",
        "The classes of lowest F1 on the test split:",
        markdown_table(
            ["class", "F1", "recall", "precision", "test images"],
            [
                [
                    markdown_text(name),
                    *(score(s[key]) for key in ("f1", "recall", "precision")),
                    str(s["support"]),
                ]
                for name, s in weakest_classes(run.per_class)
            ],
        ),
        "## Limits",
        f"- Small data: {test['n_examples']} test images give an accuracy interval "
        f"{100 * (test['ci95']['accuracy']['high'] - test['ci95']['accuracy']['low']):.1f} points wide; "
        "a class with few images is measured even less precisely.\n"
        "- Closed set (above); its probabilities are calibrated on photos of its own classes, not on people it "
        "was not trained on.\n"
        "- The face detector (OpenCV's Haar cascade, when `faces.detect` is on) finds frontal faces; profiles, "
        'small or covered faces are missed and the photo is refused ("no face found").\n'
        f"- Trained in {run.precision}: on another CPU or TensorFlow build the last digits of every score may differ.",
        provenance_section(run, train, origin),
        "## Consent",
        "Photos of people are personal data, and recognising faces processes biometric data (in the EU, GDPR "
        "article 9: explicit consent or another legal basis). Train only on photos of people who agreed to it; keep "
        "`data/` and the DVC remote private; when someone withdraws, delete their folder, run `dvc repro` and "
        "replace every copy of the old model (`dvc gc` for the cache and remote). Do not publish a model of people "
        "who did not agree: it can recognise them.",
    ]
    return "\n\n".join(part for part in sections if part) + "\n"


def face_settings(faces: FacesParams) -> str:
    """One sentence: the face crop that training used and that predict/serve repeat (saved with the model)."""
    if not faces.detect:
        return "Whole images, no face crop (`faces.detect: false`); predict and serve do the same."
    keep = "the largest face" if faces.multiple == "largest" else "every face"
    return (
        f"Faces cropped with OpenCV's Haar cascade {markdown_text(faces.cascade)} (scale factor "
        f"{faces.scale_factor:g}, min neighbours {faces.min_neighbors}, margin {faces.margin:g}), keeping {keep}; "
        "these settings are saved with the model, and predict and serve crop the same way."
    )


def folds_line(kfold: KFoldReport) -> str:
    """The K-fold mean ± std and the range over folds (train + val, the same network retrained per fold)."""
    accuracies = [fold["accuracy"] for fold in kfold["folds"]]
    return (
        f"{kfold['k']}-fold cross validation over train + val: accuracy {mean_std(kfold['accuracy'])} "
        f"(folds from {min(accuracies):.4f} to {max(accuracies):.4f}), macro F1 {mean_std(kfold['f1_macro'])}."
    )


MODEL_NAME = "star-recognizer"
"""The model's name in the card's model-index and in dvc.yaml's artifacts (the registry entry)."""


def dataset_name(source: str) -> str:
    """The name the card gives ``data.source``: a built-in source's own name, else the last part of the folder
    path or URL (never the rest of a local path)."""
    if source in ("digits", "synthetic", "lfw"):
        return source
    path = urlsplit(source).path if "://" in source else source
    return PurePosixPath(path.rstrip("/")).name or source


def front_matter(run: CardInputs, data: DataParams, faces: FacesParams) -> str:
    """The card's YAML front-matter as the Hugging Face Hub reads it: license, library, tags, datasets and a
    ``model-index`` with the test split's scores and the K-fold means, each value as the metrics files hold it."""
    dataset, test, kfold = dataset_name(data.source), run.test, run.kfold
    task = {"type": "image-classification", "name": "Image classification"}
    tested = [
        {"type": "accuracy", "value": test["accuracy"], "name": "Test accuracy"},
        {"type": "f1", "value": test["f1_macro"], "name": "Test macro F1", "args": {"average": "macro"}},
    ]
    if "ece" in test and run.calibration:
        bins = run.calibration["bins"]
        tested.append({"type": "ece", "value": test["ece"], "name": f"Test expected calibration error ({bins} bins)"})
    folds = [
        {"type": key, "value": mean["mean"], "name": f"{kfold['k']}-fold cross-validation {name} (mean)"}
        for key, mean, name in (("accuracy", kfold["accuracy"], "accuracy"), ("f1", kfold["f1_macro"], "macro F1"))
    ]
    results: list[dict] = [
        {"task": dict(task), "dataset": {"name": dataset, "type": dataset, "split": split}, "metrics": metrics}
        for split, metrics in (("test", tested), ("train+val", folds))
    ]  # a copy of task each: the same object twice would be written as a YAML alias
    tags = ["image-classification", "keras", "cnn", "dvc", "starrec"]
    meta = {
        "license": LICENSE,
        "library_name": "keras",
        "pipeline_tag": "image-classification",
        "tags": tags if data.source in NOT_PEOPLE else [*tags, "face-recognition"],
        "datasets": [dataset],
        "metrics": ["accuracy", "f1"],
        "model-index": [{"name": MODEL_NAME, "results": results}],
    }
    return f"---\n{yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)}---"


LICENSE = "mit"
"""The license the card gives the model: the code's (LICENSE); photos of people bring their own terms."""


def how_to_use(image_size: int, faces: FacesParams) -> str:
    """The card's "How to use": ``starrec predict``, and the model in plain Keras in six lines (a test runs them)."""
    crop = "crop the face first, as training did (`faces` in params.yaml); " if faces.detect else ""
    return (
        "## How to use\n\n"
        '`starrec predict photo.jpg` gives the top 3 classes, crops faces as in training and says "not sure" under '
        f"min_confidence. In plain Keras, without starrec (an RGB photo resized to {image_size}x{image_size}; "
        f"{crop}the model converts and normalises it itself):\n\n"
        "```python\n"
        "import json, zipfile, keras, numpy as np\n"
        "from PIL import Image\n"
        f'model = keras.saving.load_model("{artifacts.MODEL}")\n'
        f'classes = json.loads(zipfile.ZipFile("{artifacts.MODEL}").read("{INFO_NAME}"))["classes"]\n'
        f'photo = np.asarray(Image.open("photo.jpg").convert("RGB").resize(({image_size}, {image_size})), "float32")\n'
        "print(classes[int(model.predict(photo[None], verbose=0).argmax())])\n"
        "```"
    )


def provenance_section(run: CardInputs, train: TrainParams, origin: Provenance | None) -> str:
    """When and where the model was trained, from which commit and data, with which libraries, and its exports'
    sizes and latency (metrics/export.json); the parts a run from before them lacks are left out."""
    lines = ["## Provenance"]
    if run.machine:
        machine = run.machine
        when = f"Trained {markdown_text(machine['finished'])} UTC" if "finished" in machine else "Trained"
        took = f", {machine['seconds']:.0f} s for {train.epochs} epochs" if "seconds" in machine else ""
        lines.append(f"{when} on {markdown_text(machine['cpu'])} in {markdown_text(machine['precision'])}{took}.")
    if origin:
        lines.append(
            f"Git commit {markdown_text(origin.commit)} (HEAD when the pipeline ran; dvc.lock holds every code and "
            f"params hash); data (`data/raw`) md5 {markdown_text(origin.data_hash)} in dvc.lock. Libraries: "
            + ", ".join(f"{name} {markdown_text(version)}" for name, version in origin.versions.items())
            + "."
        )
    if run.export and "latency_ms" in run.export:
        export = run.export
        lines.append(
            "Exports (`models/export`), each run in its own runtime on this machine: one photo at a time, median of "
            f"{export['latency_runs']} runs after a warm-up; largest probability difference from the Keras model on "
            "test images:\n\n"
            + markdown_table(
                ["file", "size (KiB)", "latency (ms)", "largest difference"],
                [
                    [
                        markdown_text(name),
                        f"{export['bytes'][name] / 1024:,.0f}",
                        f"{latency:.2f}",
                        f"{export['max_abs_difference'][name]:.1e}",
                    ]
                    for name, latency in export["latency_ms"].items()
                ],
            )
        )
    return "\n\n".join(lines) if len(lines) > 1 else ""
