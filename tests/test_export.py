"""Stage export's formats, each run by its own runtime, against the Keras model (issue #11, item 1)."""

import hashlib
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from helpers.data import fit_arrays, replace, save_image
from starrec.app.cli import main
from starrec.model_info import ModelFileError, ModelInfo
from starrec.params import FacesParams
from starrec.ship.card import how_to_use
from starrec.ship.classifiers import load_classifier
from starrec.ship.export import (
    FORMATS,
    QUANTIZED,
    TOLERANCE,
    ExportMismatch,
    check_exports,
    export_model,
    float32_copy,
    quantized_report,
)
from starrec.train.model_file import save_model

pytestmark = pytest.mark.slow  # real processes, services or conversions: make test, not make test-fast

CLASSES = ["red", "green", "blue"]


@pytest.fixture
def exported(tmp_path, tiny_arrays, tiny_params):
    """A float32 tiny model, saved as .keras, and its exports."""
    images, labels = tiny_arrays
    params = replace(tiny_params, "train", epochs=20, learning_rate=0.05, precision="float32")
    model, _ = fit_arrays(params, images, labels)
    folder = tmp_path / "trained"
    save_model(model, ModelInfo(CLASSES, FacesParams()), folder / "model.keras")
    export_model(model, ModelInfo(CLASSES, FacesParams()), folder / "export", images)
    return model, images, folder


def test_every_format_matches_the_keras_model_in_its_own_runtime(exported):
    model, images, folder = exported
    expected = np.asarray(model(images.astype(np.float32)))
    assert sorted(path.name for path in (folder / "export").iterdir()) == sorted([*FORMATS, "starrec.json"])
    for name in FORMATS:
        classifier = load_classifier(folder / "export" / name)
        got = classifier.probabilities(images.astype(np.float32))
        assert np.abs(got - expected).max() <= TOLERANCE, name
        assert classifier.info.classes == CLASSES and classifier.image_size == 16
        assert classifier.keras_model is None  # its own runtime, not Keras
    checked = check_exports(folder / "export", float32_copy(model), images)
    differences = checked.max_abs_difference
    assert set(differences) == set(FORMATS) and max(differences.values()) <= TOLERANCE
    assert set(checked.latency_ms) == set(FORMATS) and all(0 < ms < 1000 for ms in checked.latency_ms.values())
    assert checked.bytes["model.onnx"] == (folder / "export/model.onnx").stat().st_size
    saved_model = sum(f.stat().st_size for f in (folder / "export/saved_model").rglob("*") if f.is_file())
    assert checked.bytes["saved_model"] == saved_model > checked.bytes["model.onnx"]


def test_predict_gives_the_same_answer_with_every_format(exported, tmp_path, capsys):
    _, images, folder = exported
    photo = save_image(tmp_path / "photo.png", images[20])
    answers = []
    for model in ["model.keras", *(f"export/{name}" for name in FORMATS)]:
        assert main(["predict", str(photo), "--model", str(folder / model), "--json", "--top-k", "3"]) == 0
        answers.append(json.loads(capsys.readouterr().out)[0]["predictions"])
    for answer in answers[1:]:
        assert [p["class"] for p in answer] == [p["class"] for p in answers[0]]
        assert [p["probability"] for p in answer] == pytest.approx([p["probability"] for p in answers[0]], abs=1e-4)


def test_a_mixed_precision_model_is_exported_as_float32_with_the_same_answers(tiny_arrays, tiny_params):
    images, labels = tiny_arrays
    params = replace(tiny_params, "train", epochs=20, learning_rate=0.05, precision="mixed_bfloat16")
    model, _ = fit_arrays(params, images, labels)
    copy = float32_copy(model)
    assert {layer.dtype_policy.name for layer in copy.layers} == {"float32"}
    assert "conv_1" in [layer.name for layer in model.layers if layer.dtype_policy.name == "mixed_bfloat16"]
    x = images.astype(np.float32)
    trained, exported = np.asarray(model(x)), np.asarray(copy(x))
    assert np.abs(trained - exported).max() < 0.02  # bfloat16 has 8 bits of mantissa
    assert np.mean(trained.argmax(axis=1) == exported.argmax(axis=1)) >= 0.95


def test_an_export_that_fails_its_check_is_never_moved_into_place(exported, monkeypatch):
    model, images, folder = exported
    before = {p.name: p.stat().st_mtime_ns for p in (folder / "export").iterdir()}
    monkeypatch.setattr("starrec.ship.export.TOLERANCE", -1.0)  # every export now "differs"
    with pytest.raises(ExportMismatch, match=r"export/saved_model: probabilities differ .* nothing was exported"):
        export_model(model, ModelInfo(CLASSES, FacesParams()), folder / "export", images)
    assert {p.name: p.stat().st_mtime_ns for p in (folder / "export").iterdir()} == before  # the old one, intact
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []  # no half export beside it


def test_a_tampered_export_is_refused_by_its_recorded_sha256(exported, tmp_path, capsys):
    import onnx
    from onnx import numpy_helper

    _, images, folder = exported
    onnx_model = onnx.load(folder / "export" / "model.onnx")
    bias = next(t for t in reversed(onnx_model.graph.initializer) if len(t.dims) == 1 and t.dims[0] == len(CLASSES))
    bias.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(bias) + np.float32(50.0), bias.name))
    onnx.save(onnx_model, folder / "export" / "model.onnx")  # logits of one class +50
    with pytest.raises(ModelFileError, match=r"model.onnx: its sha256 is not the one .* changed since export"):
        load_classifier(folder / "export" / "model.onnx")
    photo = save_image(tmp_path / "photo.png", images[0])
    assert main(["predict", str(photo), "--model", str(folder / "export" / "model.onnx")]) == 1
    assert "changed since export" in capsys.readouterr().err
    with (folder / "export" / "saved_model" / "saved_model.pb").open("ab") as file:
        file.write(b"\0")
    with pytest.raises(ModelFileError, match=r"saved_model: its sha256 is not the one"):
        load_classifier(folder / "export" / "saved_model")


def test_a_damaged_or_unknown_export_is_refused(exported, tmp_path):
    _, _, folder = exported
    (tmp_path / "model.onnx").write_bytes(b"not onnx")
    sidecar = json.loads((folder / "export" / "starrec.json").read_text())
    sidecar["sha256"]["model.onnx"] = hashlib.sha256(b"not onnx").hexdigest()  # damaged before it was recorded
    (tmp_path / "starrec.json").write_text(json.dumps(sidecar))
    with pytest.raises(ModelFileError, match=r"model.onnx: not a readable ONNX model"):
        load_classifier(tmp_path / "model.onnx")
    (tmp_path / "model.h5").write_bytes(b"an old Keras file")
    with pytest.raises(ModelFileError, match=r"model.h5: not a .keras model, a SavedModel folder, an .onnx or"):
        load_classifier(tmp_path / "model.h5")
    del sidecar["sha256"]  # an export from before the checksums
    (tmp_path / "starrec.json").write_text(json.dumps(sidecar))
    with pytest.raises(ModelFileError, match=r"starrec.json: missing or invalid .*dvc repro -s export"):
        load_classifier(tmp_path / "model.onnx")
    (tmp_path / "starrec.json").unlink()
    with pytest.raises(ModelFileError, match=r"starrec.json: missing or invalid .*dvc repro -s export"):
        load_classifier(tmp_path / "model.onnx")


@pytest.mark.parametrize("quantize", ["dynamic", "int8"])
def test_a_quantised_litert_model_is_written_registered_and_measured(tmp_path, tiny_arrays, tiny_params, quantize):
    images, labels = tiny_arrays
    params = replace(tiny_params, "train", epochs=20, learning_rate=0.05, precision="float32")
    model, _ = fit_arrays(params, images, labels)
    out = tmp_path / "export"
    export_model(model, ModelInfo(CLASSES, FacesParams()), out, images, quantize, calibration=images[::2])
    name = QUANTIZED[quantize]
    assert name in json.loads((out / "starrec.json").read_text())["sha256"]  # loaded like any export
    classifier = load_classifier(out / name)
    assert classifier.info.classes == CLASSES and classifier.probabilities(images[:2].astype(np.float32)).shape == (
        2,
        3,
    )
    report = quantized_report(out, quantize, images, labels)
    assert report["mode"] == quantize and report["file"] == name and report["test_images"] == len(labels)
    assert (
        report["bytes"] == (out / name).stat().st_size
        and report["float32_bytes"] == (out / "model.tflite").stat().st_size
    )
    float32 = np.asarray(model(images.astype(np.float32))).argmax(axis=1)
    assert report["float32_accuracy"] == pytest.approx(np.mean(float32 == labels))
    assert report["top1_agreement"] >= 0.9 and abs(report["accuracy"] - report["float32_accuracy"]) <= 0.1


@pytest.mark.parametrize(
    "change, message",
    [
        ({"faces": {"scale_factor": 1.0}}, "faces.scale_factor: 1.0 is out of range"),
        ({"faces": {"cascade": "/etc/passwd"}}, "faces.cascade: '/etc/passwd'; allowed: a file name of OpenCV's"),
        ({"faces": {"cascade": "../../x.xml"}}, "faces.cascade"),
        ({"faces": {"min_neighbors": -1}}, "faces.min_neighbors: -1 is out of range"),
        ({"faces": {"sudo": True}}, "faces.sudo: unknown key"),
        ({"image_size": 0}, "image_size: 0; allowed: an integer from 8 to 512"),
        ({"image_size": "32"}, "image_size"),
        ({"classes": []}, "classes: not a list of class names"),
        ({"min_confidence": 1.5}, "min_confidence: 1.5; allowed: a number from 0 to 1"),
        ({"min_confidence": "high"}, "min_confidence: 'high'"),
        ({"sha256": {"model.onnx": "../etc"}}, "sha256 is not a mapping of export names to 64 hexadecimal digits"),
    ],
)
def test_every_field_of_the_export_sidecar_is_checked_as_params_are(change, message):
    """Whoever can write models/export must not reach OpenCV's internals or the server's files through it."""
    from starrec.model_info import ExportInfo, parse_export_info

    sidecar = json.loads(ExportInfo(ModelInfo(CLASSES, FacesParams()), 32, {"model.onnx": "0" * 64}).to_json())
    for key, value in change.items():
        sidecar[key] = {**sidecar[key], **value} if isinstance(value, dict) and key == "faces" else value
    with pytest.raises((TypeError, ValueError), match=message):
        parse_export_info(json.dumps(sidecar))


def test_a_deployment_can_pin_the_models_sha256(exported, monkeypatch):
    """STARREC_MODEL_SHA256: a swapped model whose starrec.json was rewritten to match is still refused."""
    from starrec.ship.classifiers import PIN, export_digest

    _, _, folder = exported
    onnx_path = folder / "export" / "model.onnx"
    monkeypatch.setenv(PIN, export_digest(onnx_path).upper())
    assert load_classifier(onnx_path).info.classes == CLASSES
    monkeypatch.setenv(PIN, "0" * 64)
    with pytest.raises(ModelFileError, match=rf"model.onnx: its sha256 is [0-9a-f]{{64}}, not {PIN}=0{{64}}; refused"):
        load_classifier(onnx_path)
    with pytest.raises(ModelFileError, match="model.keras: its sha256 is"):
        load_classifier(folder / "model.keras")


FULL_DISK_EXPORT = """
import resource, sys
from pathlib import Path
import numpy as np
from starrec.ship.export import export_model
from starrec.stage import run_stage
from starrec.train.model_file import load_model, load_model_info

folder = Path(sys.argv[1])
model = load_model(folder / "model.keras")
images = np.zeros((4, *model.input_shape[1:]), np.uint8)
resource.setrlimit(resource.RLIMIT_FSIZE, (2_000, 2_000))  # every export's first large file is over it
run_stage(lambda: export_model(model, load_model_info(folder / "model.keras", model), folder / "export", images))
"""


def test_an_export_on_a_full_disk_is_one_line_and_keeps_the_previous_export(exported):
    _, _, folder = exported
    before = {p.name: p.stat().st_mtime_ns for p in (folder / "export").iterdir()}
    done = subprocess.run([sys.executable, "-c", FULL_DISK_EXPORT, str(folder)], capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert re.fullmatch(r"error: \S*/trained/\.export\.\w+\.tmp/\S+: File too large\n", done.stderr), done.stderr
    assert {p.name: p.stat().st_mtime_ns for p in (folder / "export").iterdir()} == before
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


PLAIN_KERAS_LOAD = """
import sys
import keras
import numpy as np
model = keras.saving.load_model(sys.argv[1])
assert not any(name.startswith("starrec") for name in sys.modules), "starrec was imported"
np.save(sys.argv[2], np.asarray(model(np.load(sys.argv[3]).astype("float32"))))
"""


def test_plain_keras_opens_the_model_file_and_gives_the_same_answers(exported, tmp_path):
    """`keras.saving.load_model('models/model.keras')` with only Keras imported: no class of ours inside; and
    the model card's "How to use" snippet, run as it stands, names the class the model gives its photo."""
    model, images, folder = exported
    np.save(tmp_path / "images.npy", images)
    (tmp_path / "models").symlink_to(folder)
    Image.fromarray(images[20].astype(np.uint8)).save(tmp_path / "photo.jpg")
    snippet = how_to_use(16, FacesParams()).split("```python\n")[1].split("```")[0]
    command = [sys.executable, "-c", PLAIN_KERAS_LOAD + snippet, "models/model.keras", "p.npy", "images.npy"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), np.asarray(model(images.astype(np.float32))), atol=1e-6)
    photo = np.asarray(Image.open(tmp_path / "photo.jpg").convert("RGB"), np.float32)[None]
    assert done.stdout.strip() == CLASSES[int(np.asarray(model(photo)).argmax())]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Keras saving MomentumSGD's config: np.array(copy=False)
@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")  # an unbuilt optimizer, as 0.2's
def test_a_model_file_of_an_earlier_version_still_loads(tmp_path, tiny_arrays):
    """Files saved before the grayscale step was a Keras layer hold starrec's Grayscale and MomentumSGD."""
    import keras

    from starrec.train.model_file import load_model
    from starrec.train.optim import MomentumSGD
    from starrec.train.preprocess import Grayscale

    images, _ = tiny_arrays
    inputs = keras.Input((16, 16, 3))
    old = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(Grayscale(name="grayscale")(inputs))))
    old.compile(optimizer=MomentumSGD(0.01, momentum=0.9), loss="sparse_categorical_crossentropy")
    old.save(tmp_path / "old.keras")
    loaded = load_model(tmp_path / "old.keras")
    np.testing.assert_allclose(np.asarray(loaded(images.astype("float32"))), np.asarray(old(images.astype("float32"))))
