"""starrec predict: the training path for photos, top-k output, clear errors."""

import json

import yaml

from conftest import fit_arrays, replace, save_image
from starrec.cli import main


def test_predict_top1_json_and_a_bad_photo(tmp_path, tiny_params, tiny_arrays, capsys):
    images, labels = tiny_arrays
    params = replace(tiny_params, "train", epochs=20, learning_rate=0.05)
    model, _ = fit_arrays(params, images, labels)
    model.save(tmp_path / "model.keras")
    (tmp_path / "classes.json").write_text(json.dumps(["red", "green", "blue"]))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"image": {"size": 16}}))
    photo = save_image(tmp_path / "photo.png", images[20])
    (tmp_path / "broken.jpg").write_bytes(b"nope")
    args = [
        "predict",
        str(photo),
        str(tmp_path / "broken.jpg"),
        "--model",
        str(tmp_path / "model.keras"),
        "--params",
        str(tmp_path / "params.yaml"),
        "--top-k",
        "2",
    ]
    assert main(args + ["--json"]) == 1
    out, err = capsys.readouterr()
    results = json.loads(out)
    assert results[0]["predictions"][0]["class"] == "blue" and len(results[0]["predictions"]) == 2
    assert results[1] == {"photo": str(tmp_path / "broken.jpg"), "error": "not an image"}
    assert "error: " in err and "broken.jpg: not an image" in err
    assert main(args[:2] + args[3:]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines()[1].split()[0] == "blue" and "%" in out


def test_predict_without_a_model_says_what_to_run(tmp_path, capsys):
    assert main(["predict", "x.png", "--model", str(tmp_path / "none.keras")]) == 1
    assert "dvc repro" in capsys.readouterr().err
