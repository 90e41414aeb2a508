"""The model card (stage card, issue #21 item 4): this run's numbers, the weakest classes, escaped names,
the precision read from the model file, and a clear error for a missing metrics file."""

import dataclasses
import platform
import re
import subprocess

import keras
import pytest
import yaml

from starrec import artifacts
from starrec.errors import MissingInput
from starrec.model_info import ModelInfo
from starrec.params import FacesParams, Params
from starrec.ship.card import (
    LIBRARIES,
    CardInputs,
    Provenance,
    calibration_line,
    dataset_name,
    library_version,
    model_card,
    model_facts,
    provenance,
    read_run,
    weakest_classes,
)
from starrec.train.model_file import save_model

HOSTILE = "<img src=x onerror=alert(1)>|*bold*"
CLASSES = ["ada", HOSTILE, "grace"]


def scores(accuracy, f1, low=0.5, high=0.9):
    return {
        "accuracy": accuracy,
        "f1_macro": f1,
        "ci95": {k: {"low": low, "high": high} for k in ("accuracy", "f1_macro")},
    }


def run_metrics(precision="float32") -> CardInputs:
    per_class = {
        "ada": {"f1": 0.9, "recall": 0.95, "precision": 0.86, "support": 10},
        HOSTILE: {"f1": 0.5, "recall": 0.4, "precision": 0.67, "support": 10},
        "grace": {"f1": 0.9, "recall": 0.9, "precision": 0.9, "support": 10},
        "macro avg": {"f1": 0.1, "recall": 0.1, "precision": 0.1, "support": 30},
    }
    counts = [
        {"split": split, "class": name, "count": n}
        for name in CLASSES
        for split, n in (("train", 6), ("val", 2), ("test", 2))
    ]
    kfold = {"k": 2, "accuracy": {"mean": 0.8, "std": 0.05}, "f1_macro": {"mean": 0.79, "std": 0.06}}
    kfold["folds"] = [{"fold": 0, "accuracy": 0.75}, {"fold": 1, "accuracy": 0.85}]
    test = {"n_examples": 30, **scores(0.7667, 0.7612, 0.6, 0.9)}
    baseline = {"eigenfaces": scores(0.6, 0.58), "logistic_regression": scores(0.55, 0.5)}
    return CardInputs(test, kfold, baseline, per_class, counts, precision, "0.2.0")


CALIBRATION = {
    "temperature": 1.5,
    "bins": 15,
    "ece": {"value": 0.031, "ci95": {"low": 0.02, "high": 0.09}},
    "ece_uncalibrated": {"value": 0.12, "ci95": {"low": 0.08, "high": 0.18}},
    "selective": {
        "min_confidence": 0.8,
        "coverage": {"value": 0.9, "ci95": {"low": 0.8, "high": 0.95}},
        "risk": {"value": 0.02, "ci95": {"low": 0.01, "high": 0.07}},
    },
    "noise": {"images": 200, "refused": 0.935},
}


def card_of(params: Params, precision="float32") -> str:
    return model_card(
        run_metrics(precision), params.data, params.faces, params.image.size, params.augment, params.model, params.train
    )


def test_the_card_holds_this_runs_numbers_and_escapes_every_name():
    params = Params()
    card = card_of(params)
    assert "its classes are not people" in card  # the default data: digits
    assert "| this CNN | 0.7667 [0.6000, 0.9000] | 0.7612 [0.6000, 0.9000] |" in card
    assert "| eigenfaces | 0.6000 [0.5000, 0.9000] |" in card and "| logistic regression |" in card
    assert "2-fold cross validation over train + val: accuracy 0.8000 ± 0.0500 (folds from 0.7500 to 0.8500)" in card
    assert "30 test images give an accuracy interval 30.0 points wide" in card
    assert HOSTILE not in card and "<img" not in card and "|*bold*" not in card
    weakest = card.split("## Weakest classes")[1].split("## Limits")[0]
    assert weakest.index("&#60;img") < weakest.index("| grace |") < weakest.index("| ada |")  # F1, then recall
    assert "| grace | 6 | 2 | 2 |" in card and "in float32" in card and "Trained by starrec 0.2.0;" in card


def test_the_card_of_photos_describes_the_face_crop_and_warns_of_nothing_else():
    params = Params()
    data = dataclasses.replace(params.data, source="/data/stars")
    faces = dataclasses.replace(params.faces, detect=True, multiple="all")
    card = model_card(run_metrics("mixed_bfloat16"), data, faces, 140, params.augment, params.model, params.train)
    assert "not people" not in card and "`data.source` /data/stars: 30 images in 3 classes" in card
    assert "Haar cascade haarcascade&#95;frontalface&#95;alt.xml (scale" in card and "keeping every face" in card
    assert "in mixed&#95;bfloat16" not in card and "in mixed_bfloat16" in card


def test_weakest_classes_are_the_lowest_f1_then_recall_then_name():
    assert [name for name, _ in weakest_classes(run_metrics().per_class, 2)] == [HOSTILE, "grace"]


def test_a_class_never_predicted_is_the_weakest_and_its_undefined_scores_are_named():
    run = run_metrics()
    run.per_class["ada"] |= {"f1": None, "precision": None, "recall": 0.0}  # never predicted: no precision
    assert [name for name, _ in weakest_classes(run.per_class)] == ["ada", HOSTILE, "grace"]
    params = Params()
    card = model_card(run, params.data, params.faces, 32, params.augment, params.model, params.train)
    assert "| ada | undefined | 0.0000 | undefined | 10 |" in card


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_the_precision_is_read_from_the_model_file(tmp_path, policy):
    inputs = keras.Input((4,))
    outputs = keras.layers.Softmax(dtype="float32")(keras.layers.Dense(2, dtype=policy)(inputs))
    save_model(
        keras.Model(inputs, outputs), ModelInfo(["a", "b"], FacesParams(), version="9.9"), tmp_path / "model.keras"
    )
    assert model_facts(tmp_path / "model.keras") == (policy, "9.9")


def test_a_missing_metrics_file_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MissingInput, match=r"^metrics/test.json: missing; run `dvc repro` first$"):
        read_run(artifacts.MODEL)


def test_the_card_gives_the_temperature_and_the_calibration_error_with_its_interval():
    params = Params()
    run = dataclasses.replace(run_metrics(), calibration=CALIBRATION)
    card = model_card(run, params.data, params.faces, 32, params.augment, params.model, params.train)
    assert "softmax(logits / T) with T = 1.500" in card
    assert "0.0310 [0.0200, 0.0900] as served, 0.1200 [0.0800, 0.1800] at T = 1" in card
    assert "answered 90.0 % [80.0, 95.0 %] of the photos, with an error of 2.0 % [1.0, 7.0 %]" in card
    assert "It refused 93.5 % of 200 images of random noise." in card
    unknown = {"images": 40, "refused": {"value": 0.75, "ci95": {"low": 0.6, "high": 0.86}}}
    run = dataclasses.replace(run, calibration=CALIBRATION | {"unknown": unknown})
    card = model_card(run, params.data, params.faces, 32, params.augment, params.model, params.train)
    assert (
        "Of 40 faces of people in none of its classes (`data.unknown_source`) it refused 75.0 % [60.0, 86.0 %]." in card
    )
    assert "T = " not in card_of(params)  # a run from before calibration: no line


@pytest.mark.parametrize(
    "temperature, ece_high, says, never",
    [
        (1.5, 0.04, ["T = 1.500, fitted on the validation split", "right about 90 % of the time"], ["not fitted"]),
        (1.0, 0.04, ["T = 1: not fitted (calibration.temperature: false)", "right about 90 %"], ["fitted on"]),
        (1.0, 0.35, ["not fitted", "a probability is 0.29 off how often it is right"], ["right about 90 %"]),
    ],
)
def test_the_card_claims_a_fitted_temperature_and_calibrated_probabilities_only_when_they_are(
    temperature, ece_high, says, never
):
    """calibration.temperature: false and an ECE of 0.29 got "fitted" and "0.9 is right 90 % of the time"."""
    ece = {"value": 0.29 if ece_high > 0.3 else 0.03, "ci95": {"low": 0.01, "high": ece_high}}
    line = calibration_line(CALIBRATION | {"temperature": temperature, "ece": ece})
    assert all(words in line for words in says) and not any(words in line for words in never), line


def front_matter_of(card: str) -> dict:
    """The card's YAML front-matter, parsed as the Hugging Face Hub does: between the first two ``---`` lines."""
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("\n---\n")[0].removeprefix("---\n"))


def test_the_front_matter_parses_and_holds_the_metrics_files_numbers():
    run = dataclasses.replace(run_metrics(), calibration=CALIBRATION, test=run_metrics().test | {"ece": 0.0123})
    params = Params()
    data = dataclasses.replace(params.data, source="https://example.org/photos/stars.tar.gz?x=1")
    card_text = model_card(run, data, params.faces, 32, params.augment, params.model, params.train)
    meta = front_matter_of(card_text)
    assert meta["license"] == "mit" and meta["library_name"] == "keras" and "face-recognition" in meta["tags"]
    assert meta["datasets"] == ["stars.tar.gz"] and meta["metrics"] == ["accuracy", "f1"]
    assert "&id" not in card_text and "*id" not in card_text  # no YAML aliases: every reader sees plain values
    (entry,) = meta["model-index"]
    test, folds = entry["results"]
    assert entry["name"] == "star-recognizer" and test["dataset"]["split"] == "test"
    values = {metric["name"]: metric["value"] for metric in test["metrics"]}
    assert values == {
        "Test accuracy": run.test["accuracy"],
        "Test macro F1": run.test["f1_macro"],
        "Test expected calibration error (15 bins)": 0.0123,
    }
    assert [(m["type"], m["value"]) for m in folds["metrics"]] == [("accuracy", 0.8), ("f1", 0.79)]
    assert folds["metrics"][0]["name"] == "2-fold cross-validation accuracy (mean)"


def test_a_hostile_source_name_stays_a_yaml_string_and_a_local_path_stays_local():
    params = Params()
    hostile = dataclasses.replace(params.data, source="/home/me/x: y\n---\nlicense: stolen")
    meta = front_matter_of(
        model_card(run_metrics(), hostile, params.faces, 32, params.augment, params.model, params.train)
    )
    assert meta["license"] == "mit" and meta["datasets"] == ["x: y\n---\nlicense: stolen"]
    assert dataset_name("/home/me/photos/") == "photos" and dataset_name("digits") == "digits"


def test_provenance_reads_the_commit_the_data_hash_and_the_versions(tmp_path):
    assert provenance(tmp_path / "dvc.lock", tmp_path) == Provenance(
        "unknown", "unknown", {name: library_version(name) for name in LIBRARIES}
    )
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(
        ["git", "-c", "user.name=a", "-c", "user.email=a@b", "commit", "-q", "--allow-empty", "-m", "x"],
        cwd=tmp_path,
        check=True,
    )
    lock = {"schema": "2.0", "stages": {"download": {"outs": [{"path": "data/raw", "md5": "abc.dir", "hash": "md5"}]}}}
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    origin = provenance(tmp_path / "dvc.lock", tmp_path)
    assert re.fullmatch("[0-9a-f]{40}", origin.commit) and origin.data_hash == "abc.dir"
    assert origin.versions["keras"] == keras.__version__ and origin.versions["python"] == platform.python_version()


def test_the_card_says_when_where_and_from_what_it_was_trained_and_what_its_exports_cost():
    machine = {"cpu": "AMD EPYC (AVX2)", "precision": "float32", "seconds": 61.4, "finished": "2026-12-05 08:00"}
    export = {
        "max_abs_difference": {"saved_model": 0.0, "model.onnx": 4e-7},
        "latency_ms": {"saved_model": 1.234, "model.onnx": 0.1},
        "bytes": {"saved_model": 2048, "model.onnx": 1024},
        "latency_runs": 30,
    }
    run = dataclasses.replace(run_metrics(), machine=machine, export=export)
    origin = Provenance("f" * 40, "abc.dir", {"python": "3.11.2", "keras": "3.15.1"})
    params = Params()
    card = model_card(run, params.data, params.faces, 32, params.augment, params.model, params.train, origin)
    assert "Trained 2026-12-05 08:00 UTC on AMD EPYC (AVX2) in float32, 61 s for 15 epochs." in card
    assert f"Git commit {'f' * 40} (HEAD" in card and "md5 abc.dir in dvc.lock" in card
    assert "Libraries: python 3.11.2, keras 3.15.1." in card
    assert "| saved&#95;model | 2 | 1.23 | 0.0e+00 |" in card and "| model.onnx | 1 | 0.10 | 4.0e-07 |" in card
    assert "## Provenance" not in card_of(params)  # a run from before these files: no section
