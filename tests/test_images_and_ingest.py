"""Every file people really have is either ingested or rejected with a reason."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers.data import read_arrays, save_image
from starrec.data.convert import IngestError, _examples, ingest, summary
from starrec.data.images import MAX_PIXELS, RejectedImage, decode_image
from starrec.data.manifest import group_by_id
from starrec.params import DataParams, FacesParams

RED = np.zeros((20, 30, 3), np.uint8)
RED[..., 0] = 200


@pytest.mark.parametrize(
    "name, make",
    [
        ("a.jpg", lambda p: save_image(p, RED, quality=95)),
        ("a.png", lambda p: save_image(p, RED)),
        ("a.bmp", lambda p: save_image(p, RED)),
        ("a.webp", lambda p: save_image(p, RED, lossless=True)),
        ("a.gif", lambda p: Image.fromarray(RED).save(p, save_all=True, append_images=[Image.new("RGB", (30, 20))])),
        ("cmyk.jpg", lambda p: Image.fromarray(RED).convert("CMYK").save(p, quality=95)),
        ("palette.png", lambda p: Image.fromarray(RED).convert("P").save(p)),
    ],
)
def test_formats_and_modes_decode_to_rgb(tmp_path, name, make):
    make(tmp_path / name)
    pixels = decode_image(tmp_path / name)
    assert pixels.shape == (20, 30, 3) and pixels.dtype == np.uint8
    assert abs(int(pixels[..., 0].mean()) - 200) <= 6 and pixels[..., 1].mean() < 12


@pytest.mark.parametrize(
    "name, pixels, expected",
    [
        ("gray.png", np.full((4, 5), 90, np.uint8), 90),
        ("white16.png", np.full((4, 5), 65535, np.uint16), 255),
        ("dark16.png", np.full((4, 5), 200, np.uint16), 1),  # 16-bit 200 is dark, not 8-bit 200
        ("mid16.tif", np.full((4, 5), 32768, np.uint16), 128),
        ("int32.tif", np.full((4, 5), 1000, np.int32), 4),  # mode I: 0-65535, like a 16-bit PNG
        ("over.tif", np.full((4, 5), 100_000, np.int32), 255),
        ("float.tif", np.full((4, 5), 0.5, np.float32), 128),  # mode F: 0.0-1.0
        ("float_over.tif", np.full((4, 5), 3.0, np.float32), 255),
    ],
)
def test_pixel_values_are_read_by_the_modes_range(tmp_path, name, pixels, expected):
    Image.fromarray(pixels).save(tmp_path / name)
    assert decode_image(tmp_path / name)[0, 0].tolist() == [expected] * 3


def test_a_transparency_colour_is_composited_on_white(tmp_path):
    pixels = np.full((4, 4), 40, np.uint8)
    pixels[0] = 7
    Image.fromarray(pixels).save(tmp_path / "l.png", transparency=7)
    assert Image.open(tmp_path / "l.png").mode == "L"
    decoded = decode_image(tmp_path / "l.png")
    assert decoded[0, 0].tolist() == [255, 255, 255] and decoded[1, 0].tolist() == [40, 40, 40]


def test_transparency_is_composited_on_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[:2, :, :] = [0, 0, 255, 255]
    save_image(tmp_path / "t.png", rgba)
    pixels = decode_image(tmp_path / "t.png")
    assert pixels[0, 0].tolist() == [0, 0, 255] and pixels[3, 3].tolist() == [255, 255, 255]


def test_exif_orientation_is_applied(tmp_path):
    image = Image.fromarray(np.zeros((10, 40, 3), np.uint8))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    image.save(tmp_path / "o.jpg", exif=exif)
    assert decode_image(tmp_path / "o.jpg").shape == (40, 10, 3)


@pytest.mark.parametrize(
    "content, reason",
    [(b"", "empty file"), (b"just some text", "not an image"), ("truncated", "corrupt image")],
)
def test_bad_files_are_rejected_with_a_reason(tmp_path, content, reason):
    path = tmp_path / "bad.jpg"
    if content == "truncated":
        save_image(tmp_path / "full.jpg", np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))
        content = (tmp_path / "full.jpg").read_bytes()[:300]
    path.write_bytes(content)
    with pytest.raises(RejectedImage, match=reason):
        decode_image(path)


def test_decompression_bomb_is_rejected_before_decoding(tmp_path):
    side = int(MAX_PIXELS**0.5) + 100
    Image.new("1", (side, side)).save(tmp_path / "bomb.png")
    assert (tmp_path / "bomb.png").stat().st_size < 200_000
    with pytest.raises(RejectedImage, match="too large"):
        decode_image(tmp_path / "bomb.png")


def make_messy_folder(root):
    for index in range(3):
        save_image(root / "anna maría" / f"ok {index}.png", RED)
        save_image(root / "bob" / "nested" / "deeper" / f"ok{index}.jpg", RED[::-1])
    (root / "bob" / "empty.jpg").write_bytes(b"")
    (root / "bob" / "notes.txt").write_text("not an image")
    (root / "bob" / ".DS_Store").write_bytes(b"\0\1")
    (root / "bob" / "Thumbs.db").write_bytes(b"\0\1")
    save_image(root / ".hidden" / "x.png", RED)
    save_image(root / "carl" / "only.png", RED)


PEAK_OF_ONE_DECODE = """
import io, sys
import numpy as np
from PIL import Image
from starrec.data.images import decode_bytes

def high_water_mark():
    status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
    return int(status["VmHWM"].split()[0]) * 1024

buffer = io.BytesIO()
Image.fromarray(np.zeros((4000, 6000), np.uint16)).save(buffer, "PNG")  # 24 megapixels, 16-bit, ~46 KB
data = buffer.getvalue()
before = high_water_mark()
assert decode_bytes(data, 24_000_000).shape == (4000, 6000, 3)
print(len(data), high_water_mark() - before)
"""


def test_a_small_16_bit_png_of_24_megapixels_decodes_within_the_services_memory_bound():
    """serve.Limits.decodes: each decode holds up to ~4 bytes x 3 x max_pixels (288 MB); it held ~660 MB."""
    done = subprocess.run([sys.executable, "-c", PEAK_OF_ONE_DECODE], capture_output=True, text=True, check=True)
    size, peak = map(int, done.stdout.split())
    assert size < 100_000 and peak <= 4 * 3 * 24_000_000, peak


def test_messy_folder_is_ingested_or_rejected_never_crashes(tmp_path):
    make_messy_folder(tmp_path / "raw")
    data = DataParams(min_images_per_class=2)
    result = ingest(tmp_path / "raw", data, FacesParams(), 16, tmp_path / "interim", shard_size=4)
    assert result.classes == ["anna maría", "bob"]
    assert result.dropped_classes == {"carl": 1}
    rejected = {row["source"]: row["reason"] for row in result.rejected}
    assert rejected == {"bob/empty.jpg": "empty file", "bob/notes.txt": "not an image"}
    assert "bob/nested/deeper/ok0.jpg" in {row["id"] for row in result.manifest}
    assert sorted(p.name for p in (tmp_path / "interim").iterdir()) == [
        "classes.json",
        "manifest.csv",
        "records",
        "rejected.csv",
    ]  # no scratch file left
    manifest = pd.read_csv(tmp_path / "interim" / "manifest.csv")
    assert manifest.columns.tolist() == ["id", "class", "label", "source", "sha256", "group", "width", "height"]
    assert manifest["width"].tolist() == [30] * 6 and manifest["label"].tolist() == [0, 0, 0, 1, 1, 1]
    assert pd.read_csv(tmp_path / "interim" / "rejected.csv")["reason"].tolist() == ["empty file", "not an image"]
    images, labels, _ = read_arrays(tmp_path / "interim" / "records", 16)
    assert images.shape == (6, 16, 16, 3) and labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert "bob" in summary(result) and "rejected" in summary(result)
    groups = group_by_id(tmp_path / "interim" / "manifest.csv", ["anna maría/ok 2.png", "bob/nested/deeper/ok1.jpg"])
    assert groups.tolist() == ["anna maría/ok 0.png", "bob/nested/deeper/ok0.jpg"]  # one picture each


def test_one_picture_saved_as_png_jpeg_and_resized_is_one_group(tmp_path):
    rng = np.random.default_rng(0)
    smooth = np.asarray(Image.fromarray(rng.integers(0, 255, (8, 8, 3), np.uint8)).resize((64, 64)))
    for index in range(4):
        save_image(tmp_path / "raw" / "ann" / f"other{index}.png", rng.integers(0, 255, (64, 64, 3), np.uint8))
        save_image(tmp_path / "raw" / "bob" / f"other{index}.png", rng.integers(0, 255, (64, 64, 3), np.uint8))
    save_image(tmp_path / "raw" / "ann" / "a.png", smooth)
    save_image(tmp_path / "raw" / "ann" / "a.jpg", smooth, quality=80)
    save_image(tmp_path / "raw" / "ann" / "a small.jpg", np.asarray(Image.fromarray(smooth).resize((40, 40))))
    save_image(tmp_path / "raw" / "bob" / "a.png", smooth)  # another class: its own picture
    (tmp_path / "raw" / "empty class").mkdir()
    data = DataParams(min_images_per_class=2)
    result = ingest(tmp_path / "raw", data, FacesParams(), 32, tmp_path / "interim", shard_size=4)
    groups = {row["id"]: row["group"] for row in result.manifest}
    assert groups["ann/a.jpg"] == groups["ann/a.png"] == groups["ann/a small.jpg"] == "ann/a small.jpg"
    assert groups["bob/a.png"] == "bob/a.png" and len(set(groups.values())) == 10
    assert result.dropped_classes == {"empty class": 0}
    assert "2 are another example's picture" in summary(result)
    exact = ingest(
        tmp_path / "raw",
        DataParams(min_images_per_class=2, near_duplicate_rms=0.0),
        FacesParams(),
        32,
        tmp_path / "exact",
        shard_size=4,
    )
    assert len({row["group"] for row in exact.manifest}) == 12


def test_litter_unsafe_names_and_unreadable_files_never_crash_ingest(tmp_path):
    raw = tmp_path / "raw"
    for index in range(2):
        save_image(raw / "ann" / f"{index}.png", RED)
        save_image(raw / "bob" / f"{index}.png", RED[::-1])
    for litter in ("__MACOSX/ann/1.png", "ann/@eaDir/0.png/thumb.png", "ann/._0.png", "$RECYCLE.BIN/x.png"):
        save_image(raw / litter, RED)
    save_image(raw / "bob" / os.fsdecode(b"caf\xe9.png"), RED)
    save_image(raw / os.fsdecode(b"Jos\xe9") / "1.png", RED)  # a class folder named on a latin-1 system
    rejected = []  # a file listed, then gone (or unreadable) when ingest reads it
    assert _examples(raw / "bob" / "vanished.png", raw, "bob", FacesParams(), 16, rejected) == []
    assert rejected == [
        {"source": "bob/vanished.png", "class": "bob", "reason": "unreadable: No such file or directory"}
    ]
    result = ingest(raw, DataParams(min_images_per_class=2), FacesParams(), 16, tmp_path / "interim", shard_size=4)
    assert result.classes == ["ann", "bob"]
    assert sorted(row["id"] for row in result.manifest) == [
        "ann/0.png",
        "ann/1.png",
        "bob/0.png",
        "bob/1.png",
    ]
    assert result.rejected == [
        {"source": "Jos%E9/1.png", "class": "Jos%E9", "reason": "name not valid UTF-8"},
        {"source": "bob/caf%E9.png", "class": "bob", "reason": "name not valid UTF-8"},
    ]
    assert result.dropped_classes == {"Jos%E9": 0} and "Jos%E9" in summary(result)
    assert "caf%E9.png" in (tmp_path / "interim" / "rejected.csv").read_text()


def test_class_selection_rules(tmp_path):
    make_messy_folder(tmp_path / "raw")
    faces = FacesParams()

    def ingest_into(data):
        return ingest(tmp_path / "raw", data, faces, 16, tmp_path / "interim", shard_size=4)

    picked = ingest_into(DataParams(classes=["bob", "anna maría"], min_images_per_class=1))
    assert picked.classes == ["bob", "anna maría"] and picked.manifest[0]["label"] == 0
    top = ingest_into(DataParams(max_classes=2, min_images_per_class=1))
    assert top.classes == ["anna maría", "bob"]
    with pytest.raises(IngestError, match="data.classes: \\['dave'\\] not found"):
        ingest_into(DataParams(classes=["dave", "bob"]))
    with pytest.raises(IngestError, match="data.min_images_per_class is 2 .*'carl': 1"):
        ingest_into(DataParams(classes=["carl", "bob"], min_images_per_class=2))
    with pytest.raises(IngestError, match="a classifier needs two or more"):
        ingest_into(DataParams(min_images_per_class=5))
