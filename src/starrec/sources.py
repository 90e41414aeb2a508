"""Where images come from. Every source ends as ``<target>/<class>/<image files>``.

``data.source`` selects one of: ``digits`` (scikit-learn's bundled digits),
``synthetic`` (generated, deterministic from the seed), ``lfw`` (Labeled
Faces in the Wild through scikit-learn's loader), a local folder of class
sub-folders, or an http(s):// or file:// URL of a .zip / .tar.gz archive.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.parse
from pathlib import Path

import numpy as np
from PIL import Image

from starrec.archives import extract_archive
from starrec.downloads import download
from starrec.errors import StarrecError
from starrec.params import DataParams


class SourceError(StarrecError, RuntimeError):
    """The configured data source cannot be read; the message says where and why."""


def _save_png(pixels: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="PNG", optimize=False, compress_level=6)


def write_digits(target: Path) -> None:
    """scikit-learn's 1,797 8x8 digits as grayscale PNGs in folders ``0`` .. ``9``."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    for index, (image, label) in enumerate(zip(pixels, digits.target)):
        _save_png(image, target / str(label) / f"digit_{index:04d}.png")


def synthetic_image(class_index: int, n_classes: int, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """One RGB image of a class: stripes whose angle and colour encode the class, plus noise."""
    angle = np.pi * class_index / n_classes
    yy, xx = np.mgrid[0:size, 0:size] / size
    phase = rng.uniform(0, 2 * np.pi)
    wave = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * (xx * np.cos(angle) + yy * np.sin(angle)) + phase)
    hue = class_index / n_classes
    colour = 0.5 + 0.5 * np.cos(2 * np.pi * (hue + np.array([0.0, 1 / 3, 2 / 3])))
    image = wave[..., None] * colour * 255.0 + rng.normal(0.0, 12.0, (size, size, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def write_synthetic(target: Path, n_classes: int, per_class: int, seed: int) -> None:
    """``n_classes`` x ``per_class`` generated PNGs in folders ``class_0`` ..; same seed, same bytes."""
    rng = np.random.default_rng(seed)
    for class_index in range(n_classes):
        for number in range(per_class):
            image = synthetic_image(class_index, n_classes, rng)
            _save_png(image, target / f"class_{class_index}" / f"image_{number:04d}.png")


def write_lfw(target: Path, data_home: str | None, min_faces: int) -> None:
    """LFW people with at least ``min_faces`` photos, face-cropped RGB PNGs per person."""
    from sklearn.datasets import fetch_lfw_people, get_data_home

    home = Path(get_data_home(data_home)) / "lfw_home"
    try:
        people = fetch_lfw_people(data_home=data_home, color=True, resize=1.0, min_faces_per_person=min_faces)
    except (OSError, ValueError) as error:
        raise SourceError(
            f"LFW could not be loaded ({error}). Without internet, place the data where "
            f"scikit-learn expects it: {home}/lfw_funneled/<Person_Name>/*.jpg plus "
            f"{home}/pairsDevTrain.txt, pairsDevTest.txt and pairs.txt (set data.lfw_home to "
            "the folder that holds lfw_home)"
        ) from None
    pixels = np.round(people.images * 255.0).clip(0, 255).astype(np.uint8)
    for index, (image, label) in enumerate(zip(pixels, people.target)):
        name = people.target_names[label].replace(" ", "_")
        _save_png(image, target / name / f"{name}_{index:05d}.png")


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def copy_folder(source: Path, target: Path) -> list[str]:
    """Copy every file of ``source``'s class sub-folders into ``target``.

    Copies, not hard links: DVC makes its cached files read-only, which a
    hard link would pass on to the user's own photos. Nested folders keep
    their place under their class. Symlinks pointing outside ``source`` are
    not followed; their paths are returned.
    """
    if not source.is_dir():
        raise SourceError(f"data.source: folder {source} does not exist")
    skipped = []
    for directory, subdirectories, files in os.walk(source, followlinks=False):
        here = Path(directory)
        for name in list(subdirectories):
            if (here / name).is_symlink() and not _inside(here / name, source):
                skipped.append(str(here / name))
                subdirectories.remove(name)
        if here == source:
            continue
        for name in files:
            path = here / name
            if path.is_symlink() and (not _inside(path, source) or not path.exists()):
                skipped.append(str(path))
                continue
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path.resolve(), destination)
    return skipped


def _single_root(folder: Path) -> Path:
    """The folder holding the class sub-folders: descend through lone wrapper folders."""
    while True:
        entries = [entry for entry in folder.iterdir() if not entry.name.startswith((".", "__MACOSX"))]
        if len(entries) == 1 and entries[0].is_dir() and any(child.is_dir() for child in entries[0].iterdir()):
            folder = entries[0]
        else:
            return folder


def fetch_archive(url: str, target: Path, sha256: str | None) -> list[str]:
    """Download (with checksum), extract safely, and lay out the archive's class folders."""
    with tempfile.TemporaryDirectory(prefix="starrec-download-", dir=target.parent) as scratch:
        scratch = Path(scratch)
        archive = download(url, scratch / "archive", sha256=sha256)
        extract_archive(archive, scratch / "extracted")
        return copy_folder(_single_root(scratch / "extracted"), target)


def is_url(source: str) -> bool:
    return urllib.parse.urlparse(source).scheme in ("http", "https", "file")


def fetch_source(data: DataParams, seed: int, target: Path) -> list[str]:
    """Fill ``target`` with ``<class>/<images>`` from ``data.source``; return skipped paths."""
    target.mkdir(parents=True, exist_ok=True)
    if data.source == "digits":
        write_digits(target)
    elif data.source == "synthetic":
        write_synthetic(target, data.synthetic_classes, data.synthetic_per_class, seed)
    elif data.source == "lfw":
        write_lfw(target, data.lfw_home, data.min_images_per_class)
    elif is_url(data.source):
        return fetch_archive(data.source, target, data.sha256)
    else:
        return copy_folder(Path(data.source), target)
    return []
