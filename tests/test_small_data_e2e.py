"""Every default on the smallest data the pipeline accepts: the whole `dvc repro`, no other param changed."""

import json
import subprocess
from importlib.resources import files

import numpy as np
import pytest
from PIL import Image

from helpers.data import save_image
from helpers.project import ENV, copy_project, run, stages_run
from starrec.data.download import synthetic_image
from starrec.params import Params

pytestmark = pytest.mark.e2e

STAGES = {"check_params", "download", "convert", "split", "augment", "train", "kfold", "evaluate", "baseline"}
STAGES |= {"export", "card", "visualize"} | {f"fold@{part}" for part in Params().kfold.parts}


def fewest_photos(folder):
    """Two classes of ``data.min_images_per_class`` distinct images: the least that convert accepts."""
    rng = np.random.default_rng(0)
    for star in range(2):
        for number in range(Params().data.min_images_per_class):
            save_image(folder / f"star_{star}" / f"{number}.png", synthetic_image(star, 2, rng, size=48))


ASTRONAUT = files("skimage") / "data" / "astronaut.png"


def face_photo(star: int, number: int) -> np.ndarray:
    """A 'photo' of ``star``: scikit-image's astronaut scaled (0.5-0.94), moved on a random background,
    tinted by star and brightened by number (so that no two are one picture)."""
    rng = np.random.default_rng(1000 * star + number)
    with Image.open(ASTRONAUT) as astronaut:
        scale = 0.5 + 0.04 * number
        face = astronaut.convert("RGB").resize((int(512 * scale), int(512 * scale)))
    canvas = Image.new("RGB", (520, 520), tuple(int(v) for v in rng.integers(0, 255, 3)))
    canvas.paste(face, (int(rng.integers(0, 521 - face.width)), int(rng.integers(0, 521 - face.height))))
    tint = 0.75 + 0.5 * np.roll(np.eye(3)[star % 3], star // 3)
    return np.clip(np.asarray(canvas, np.float32) * tint + 10 * number - 50, 0, 255).astype(np.uint8)


def face_photos(folder):
    """Five stars of twelve face photos each (JPEG, as a camera writes them)."""
    for star in range(5):
        for number in range(12):
            save_image(folder / f"star_{star}" / f"{number}.jpg", face_photo(star, number), quality=90)


CASES = {"fewest": (fewest_photos, {}), "faces": (face_photos, {"faces": {"detect": True}})}


@pytest.fixture(scope="module")
def repros(tmp_path_factory):
    """Per case, (repo, output of `dvc repro`): a copy of the project with the default params but
    data.source (and the case's own), both run at once (each is mostly single-threaded start-up)."""
    started = {}
    for name, (make_photos, overrides) in CASES.items():
        root = tmp_path_factory.mktemp(name)
        make_photos(root / "photos")
        repo = copy_project(root / "repo", {"data": {"source": str(root / "photos")}, **overrides})
        process = subprocess.Popen(
            ["dvc", "repro"], cwd=repo, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        started[name] = (repo, process)
    finished = {}
    for name, (repo, process) in started.items():
        output = process.communicate(timeout=1200)[0].decode()
        assert process.returncode == 0, f"{name}: dvc repro failed:\n{output}"
        finished[name] = (repo, output)
    return finished


@pytest.mark.parametrize("case", CASES)
def test_every_stage_runs_with_the_defaults(repros, case):
    repo, output = repros[case]
    assert stages_run(output) == STAGES
    assert "## Weakest classes" in (repo / "models/model_card.md").read_text()
    assert "Data and pipelines are up to date" in run(repo, "dvc", "repro")


def test_data_dependent_defaults_adapt_with_a_note(repros):
    repo, output = repros["fewest"]
    assert "baseline.pca_components auto -> 11 on this data" in output  # 12 training images
    assert json.loads((repo / "metrics/test.json").read_text())["n_examples"] == 4
    assert "visualize: 4 test images (visualize.images 10; one per class)" in output
    assert (repo / "visuals/saliency.png").is_file()


def test_faces_are_found_in_every_photo_and_travel_with_the_model(repros):
    repo, _ = repros["faces"]
    manifest = (repo / "data/interim/manifest.csv").read_text().splitlines()
    assert len(manifest) == 1 + 60
    assert json.loads((repo / "metrics/test.json").read_text())["n_examples"] == 10
    model_info = json.loads((repo / "models/export/starrec.json").read_text())
    assert model_info["faces"]["detect"] is True and model_info["classes"] == [f"star_{s}" for s in range(5)]


def test_the_search_and_the_learning_curve_run_with_their_defaults(repros):
    repo, _ = repros["fewest"]
    output = run(repo, "dvc", "repro", "tune/dvc.yaml")
    assert {name.rsplit(":", 1)[-1] for name in stages_run(output)} == {"tune", "learning_curve"}
    tune = json.loads((repo / "metrics/tune.json").read_text())
    assert tune["trials"] == Params().tune.trials and tune["best_accuracy"] >= tune["first_accuracy"]
    curve = json.loads((repo / "metrics/learning_curve.json").read_text())
    assert [point["fraction"] for point in curve["points"]] == Params().learning_curve.fractions
    assert curve["points"][0]["n_train"] >= 2  # 10 % of 12 or 13 images: still one of each class
