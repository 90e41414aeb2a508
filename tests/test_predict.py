"""starrec predict: the training path for photos with the settings saved in the model, top-k
output, clear errors for a damaged or mismatched model file (issue #12, items 16 and 17)."""

import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from helpers.data import fit_arrays, replace, save_image
from starrec.app.cli import main
from starrec.data.images import RejectedImage, read_file
from starrec.model_info import INFO_NAME, ModelInfo
from starrec.params import FacesParams
from starrec.train.model_file import save_model


@pytest.fixture
def trained(tiny_arrays, tiny_params):
    images, labels = tiny_arrays
    params = replace(tiny_params, "train", epochs=20, learning_rate=0.05)
    model, _ = fit_arrays(params, images, labels)
    return model, images


def test_predict_top1_json_and_a_bad_photo(tmp_path, trained, capsys):
    model, images = trained
    save_model(model, ModelInfo(["red", "green", "blue"], FacesParams()), tmp_path / "model.keras")
    photo = save_image(tmp_path / "photo.png", images[20])
    (tmp_path / "broken.jpg").write_bytes(b"nope")
    args = ["predict", str(photo), str(tmp_path / "broken.jpg"), "--model", str(tmp_path / "model.keras")]
    assert main([*args, "--top-k", "2", "--json"]) == 1
    out, err = capsys.readouterr()
    results = json.loads(out)
    assert results[0]["predictions"][0]["class"] == "blue" and len(results[0]["predictions"]) == 2
    assert results[1] == {"photo": str(tmp_path / "broken.jpg"), "error": "not an image"}
    assert "error: " in err and "broken.jpg: not an image" in err
    assert main(args[:2] + args[3:]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines()[1].split()[0] == "blue" and "%" in out


def test_under_the_models_min_confidence_the_answer_is_not_sure(tmp_path, trained, capsys):
    model, images = trained
    probabilities = np.asarray(model(images.astype(np.float32)))
    least = int(probabilities.max(axis=1).argmin())  # the photo the model is least sure of
    photo, top = save_image(tmp_path / "photo.png", images[least]), float(probabilities[least].max())
    for threshold, sure in ((top, True), (top + (1 - top) / 2, False)):
        save_model(model, ModelInfo(["red", "green", "blue"], FacesParams(), threshold), tmp_path / "model.keras")
        assert main(["predict", str(photo), "--model", str(tmp_path / "model.keras"), "--json"]) == 0
        (result,) = json.loads(capsys.readouterr().out)
        assert result["sure"] is sure  # the candidates are given either way
        assert result["predictions"][0]["class"] == ["red", "green", "blue"][probabilities[least].argmax()]
        assert main(["predict", str(photo), "--model", str(tmp_path / "model.keras")]) == 0
        first = capsys.readouterr().out.splitlines()[0]
        assert first.endswith("not sure; the closest classes") is not sure


def test_the_face_crop_of_training_comes_with_the_model_not_params_yaml(tmp_path, trained, capsys, monkeypatch):
    model, _ = trained
    monkeypatch.chdir(tmp_path)  # no params.yaml here
    save_model(model, ModelInfo(["red", "green", "blue"], FacesParams(detect=True)), tmp_path / "faces.keras")
    photo = save_image(tmp_path / "wall.png", np.full((64, 64, 3), 128, np.uint8))
    assert main(["predict", str(photo), "--model", str(tmp_path / "faces.keras")]) == 1
    assert "wall.png: no face found" in capsys.readouterr().err


def test_predict_without_a_model_says_what_to_run(tmp_path, capsys):
    assert main(["predict", "x.png", "--model", str(tmp_path / "none.keras")]) == 1
    assert "dvc repro" in capsys.readouterr().err


def test_a_damaged_model_file_is_one_clear_line(tmp_path, trained, capsys):
    model, _ = trained
    save_model(model, ModelInfo(["red", "green", "blue"], FacesParams()), tmp_path / "model.keras")
    content = (tmp_path / "model.keras").read_bytes()
    (tmp_path / "model.keras").write_bytes(content[: len(content) // 2])
    assert main(["predict", "x.png", "--model", str(tmp_path / "model.keras")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path}/model.keras: not a readable .keras model") and err.count("\n") == 1
    assert "dvc repro -s train" in err


def test_class_names_that_do_not_match_the_outputs_are_refused(tmp_path, trained, capsys):
    model, _ = trained
    save_model(model, ModelInfo(["red", "green"], FacesParams()), tmp_path / "two.keras")
    assert main(["predict", "x.png", "--model", str(tmp_path / "two.keras")]) == 1
    assert "two.keras: names 2 classes but the network has 3 outputs" in capsys.readouterr().err
    model.save(tmp_path / "plain.keras")  # saved by Keras alone: no class names inside
    assert main(["predict", "x.png", "--model", str(tmp_path / "plain.keras")]) == 1
    assert f"plain.keras: no valid {INFO_NAME} inside" in capsys.readouterr().err
    with zipfile.ZipFile(tmp_path / "two.keras") as bundle:
        assert json.loads(bundle.read(INFO_NAME))["faces"]["detect"] is False


def test_predict_reads_regular_files_only_and_never_hangs_or_fills_memory(tmp_path, trained):
    model, images = trained
    save_model(model, ModelInfo(["red", "green", "blue"], FacesParams()), tmp_path / "model.keras")
    (tmp_path / "zero.png").symlink_to("/dev/zero")  # endless bytes
    os.mkfifo(tmp_path / "pipe.png")  # no writer: opening it would wait for ever
    (tmp_path / "folder.png").mkdir()
    photos = [str(tmp_path / name) for name in ("zero.png", "pipe.png", "folder.png")]
    command = [sys.executable, "-m", "starrec", "predict", *photos, "--model", str(tmp_path / "model.keras")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    for photo in photos:
        assert f"error: {photo}: not a regular file (a device, FIFO, socket or folder)\n" in done.stderr


def test_a_file_over_the_byte_limit_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "big.png"
    with big.open("wb") as file:
        file.truncate(2048)  # sparse: nothing to read but its size
    with pytest.raises(RejectedImage, match="too large: 2048 bytes"):
        read_file(big, max_bytes=1024)
    assert read_file(big, max_bytes=2048) == bytes(2048)


@pytest.mark.parametrize(
    "flag, value, said",
    [
        ("--max-upload-mb", "1e300", "at most 256"),
        ("--max-upload-mb", "inf", "a finite number"),
        ("--max-upload-mb", "nan", "a finite number"),
        ("--max-megapixels", "inf", "a finite number"),
        ("--max-megapixels", "0", "above 0"),
        ("--port", "99999", "at most 65535"),
        ("--port", "0", "above 0"),
        ("--decodes", "1.5", "a whole number"),
    ],
)
def test_a_bad_service_flag_is_refused_before_anything_starts(capsys, flag, value, said):
    with pytest.raises(SystemExit) as stopped:
        main(["serve", flag, value])
    assert stopped.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("starrec serve: error: argument") and f"{value}: must be {said}" in error


@pytest.mark.parametrize("value", ["   ", "abc", "g" * 64, "0" * 100_000])
def test_a_pin_that_is_no_sha256_is_refused_in_one_short_line(monkeypatch, value):
    """A STARREC_MODEL_SHA256 of spaces turned the pin off; a 100 KB one was echoed whole."""
    from starrec.model_info import ModelFileError
    from starrec.ship.classifiers import PIN, pinned_digest

    monkeypatch.setenv(PIN, value)
    with pytest.raises(ModelFileError, match=rf"^{PIN}=.*: not a sha256 \(64 hex digits\); unset it") as refused:
        pinned_digest()
    assert len(str(refused.value)) < 200
    monkeypatch.setenv(PIN, f" {'AB' * 32}\n")
    assert pinned_digest() == "ab" * 32
    monkeypatch.delenv(PIN)
    assert pinned_digest() == ""
