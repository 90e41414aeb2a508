"""Stage export's formats, each run by its own runtime, against the Keras model (issue #11, item 1)."""

import json

import numpy as np
import pytest

from conftest import fit_arrays, replace, save_image
from starrec.classifiers import load_classifier
from starrec.cli import main
from starrec.export import FORMATS, TOLERANCE, ExportMismatch, check_exports, export_model, float32_copy
from starrec.model import ModelFileError, ModelInfo, save_model
from starrec.params import FacesParams

CLASSES = ["red", "green", "blue"]


@pytest.fixture
def exported(tmp_path, tiny_arrays, tiny_params):
    """A float32 tiny model, saved as .keras, and its exports."""
    images, labels = tiny_arrays
    params = replace(tiny_params, "train", epochs=20, learning_rate=0.05, precision="float32")
    model, _ = fit_arrays(params, images, labels)
    folder = tmp_path / "trained"
    save_model(model, ModelInfo(CLASSES, FacesParams()), folder / "model.keras")
    export_model(model, ModelInfo(CLASSES, FacesParams()), folder / "export")
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
    differences = check_exports(folder / "export", float32_copy(model), images)
    assert set(differences) == set(FORMATS) and max(differences.values()) <= TOLERANCE


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


def test_a_wrong_or_damaged_export_is_refused(exported, tmp_path, tiny_params):
    model, images, folder = exported
    labels = np.repeat(np.arange(3), 8)[::-1].copy()  # another model: trained on other labels
    other, _ = fit_arrays(replace(tiny_params, "train", precision="float32"), images, labels)
    export_model(other, ModelInfo(CLASSES, FacesParams()), tmp_path / "other")
    with pytest.raises(ExportMismatch, match=r"other/saved_model: probabilities differ from the Keras model's by"):
        check_exports(tmp_path / "other", float32_copy(model), images)
    (tmp_path / "broken.onnx").write_bytes(b"not onnx")
    (tmp_path / "starrec.json").write_text((folder / "export" / "starrec.json").read_text())
    with pytest.raises(ModelFileError, match=r"broken.onnx: not a readable ONNX model"):
        load_classifier(tmp_path / "broken.onnx")
    (tmp_path / "model.h5").write_bytes(b"an old Keras file")
    with pytest.raises(ModelFileError, match=r"model.h5: not a .keras model, a SavedModel folder, an .onnx or"):
        load_classifier(tmp_path / "model.h5")
    (tmp_path / "starrec.json").unlink()
    with pytest.raises(ModelFileError, match=r"starrec.json: missing or invalid .*dvc repro -s export"):
        load_classifier(tmp_path / "broken.onnx")
