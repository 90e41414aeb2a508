"""Haar-cascade face crops on a real photo that scikit-image ships (its 'astronaut')."""

from importlib.resources import files

import numpy as np
import pytest

from helpers.data import save_image
from starrec.data.convert import ingest
from starrec.data.faces import detect_faces, face_crops
from starrec.data.images import decode_image
from starrec.data.photos import prepare_folder, prepare_photo
from starrec.errors import MissingInput
from starrec.params import DataParams, FacesParams, ParamsError

ASTRONAUT = files("skimage") / "data" / "astronaut.png"


def test_the_lecture_cascade_finds_one_face():
    image = decode_image(ASTRONAUT)
    boxes = detect_faces(image, FacesParams(detect=True))
    assert len(boxes) == 1
    x, y, w, h = boxes[0]
    assert 120 < x + w / 2 < 280 and 40 < y + h / 2 < 180  # her face, upper middle of the 512x512 photo
    crop = face_crops(image, FacesParams(detect=True, margin=0.0))[0]
    assert crop.shape == (h, w, 3)


def test_largest_or_all_faces(tmp_path):
    image = decode_image(ASTRONAUT)
    pair = np.concatenate([image, image[::2, ::2].repeat(2, 0)[:512, :256]], axis=1)
    assert len(face_crops(pair, FacesParams(detect=True, multiple="largest"))) == 1
    assert len(face_crops(pair, FacesParams(detect=True, multiple="all"))) == 2


def test_photos_without_a_face_are_rejected_with_that_reason(tmp_path):
    for cls in ("a", "b"):
        save_image(tmp_path / "raw" / cls / "face.png", decode_image(ASTRONAUT))
        save_image(tmp_path / "raw" / cls / "wall.png", np.full((200, 200, 3), 128, np.uint8))
    faces = FacesParams(detect=True)
    result = ingest(tmp_path / "raw", DataParams(min_images_per_class=1), faces, 32, tmp_path / "interim", 10)
    assert [row["reason"] for row in result.rejected] == ["no face found", "no face found"]
    assert len(result.manifest) == 2 and result.manifest[0]["width"] == 512
    assert prepare_photo(tmp_path / "raw" / "a" / "face.png", faces, 32)[0].shape == (32, 32, 3)


def test_unknown_cascade_names_the_param():
    with pytest.raises(
        ParamsError, match="faces.cascade: cannot load 'nope.xml'; available: .*haarcascade_frontalface_alt.xml"
    ):
        detect_faces(np.zeros((10, 10, 3), np.uint8), FacesParams(detect=True, cascade="nope.xml"))


def test_a_folder_of_unknown_people_gives_every_face_and_names_the_files_without_one(tmp_path):
    folder = tmp_path / "strangers"
    save_image(folder / "astronaut.png", decode_image(ASTRONAUT))
    save_image(folder / "nested" / "wall.png", np.full((200, 200, 3), 120, np.uint8))
    (folder / "notes.txt").write_text("not a photo")
    save_image(folder / ".hidden.png", decode_image(ASTRONAUT))  # hidden: skipped, as in data.source
    crops, refused = prepare_folder(folder, FacesParams(detect=True), 32, "data.unknown_source")
    assert crops.shape == (1, 32, 32, 3) and crops.dtype == np.uint8
    assert [line.split(":")[0] for line in refused] == ["nested/wall.png", "notes.txt"]
    assert "nested/wall.png: no face found" in refused
    assert len(prepare_folder(folder, FacesParams(), 32, "data.unknown_source")[0]) == 2  # whole images
    with pytest.raises(MissingInput, match=r"^data.unknown_source: .*/nowhere: no such folder$"):
        prepare_folder(tmp_path / "nowhere", FacesParams(), 32, "data.unknown_source")
    (folder / "astronaut.png").unlink()
    with pytest.raises(
        MissingInput, match=r"^data.unknown_source: .*strangers: no photo in it could be read \(2 files\)$"
    ):
        prepare_folder(folder, FacesParams(detect=True), 32, "data.unknown_source")
