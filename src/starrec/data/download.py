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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from starrec import artifacts
from starrec.atomic import write_csv
from starrec.data.archives import extract_archive
from starrec.data.fetch import fetch_url, sha256_of
from starrec.data.filenames import (
    has_ignored_part,
    is_ignored,
    readable,
    rename_reason,
    safe_name,
    safe_path,
    stored_name_problem,
)
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
    for index, (image, label) in enumerate(zip(pixels, digits.target, strict=True)):
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
    """LFW people with at least ``min_faces`` photos, face-cropped RGB PNGs per person.

    scikit-learn downloads and caches into ``data_home``, by default
    :data:`starrec.artifacts.SCIKIT_LEARN_DATA` of this checkout, so that two
    experiments running at once (``dvc queue start -j 2``) never write to one folder.
    """
    from sklearn.datasets import fetch_lfw_people, get_data_home

    data_home = data_home or str(artifacts.SCIKIT_LEARN_DATA)
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
    for index, (image, label) in enumerate(zip(pixels, people.target, strict=True)):
        name = people.target_names[label].replace(" ", "_")
        _save_png(image, target / name / f"{name}_{index:05d}.png")


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


@dataclass
class Fetched:
    """What a source left out or renamed: symlinks not followed, class folders without a file,
    ``{stored path: (original name, reason)}`` for names made safe (:func:`starrec.data.filenames.safe_name`),
    and the sha256 of an archive downloaded without ``data.sha256``."""

    skipped: list[str] = field(default_factory=list)
    renamed: dict[str, tuple[str, str]] = field(default_factory=dict)
    unpinned_sha256: str | None = None
    empty: list[str] = field(default_factory=list)

    def notes(self) -> list[str]:
        notes = [f"skipped (symlink outside the source folder): {path}" for path in self.skipped]
        notes += [f"skipped (empty class folder): {name}" for name in self.empty]
        notes += [f"renamed ({reason}): {old} -> {new}" for new, (old, reason) in self.renamed.items()]
        if self.unpinned_sha256:
            notes.append(
                "data.sha256 is null, so nothing checks that this archive stays the same; pin it in "
                f"params.yaml, under data:\n  sha256: {self.unpinned_sha256}"
            )
        return notes


def copy_folder(source: Path, target: Path) -> Fetched:
    """Copy every file of ``source``'s class sub-folders into ``target``.

    Copies, not hard links: DVC makes its cached files read-only, which a
    hard link would pass on to the user's own photos. Nested folders keep
    their place under their class; ignored names (:mod:`starrec.data.filenames`)
    are not copied, and a name that is not valid UTF-8 is stored under its
    safe name. Symlinks pointing outside ``source`` are not followed.
    """
    if not source.is_dir():
        raise SourceError(f"data.source: folder {source} does not exist")
    names = (path.relative_to(source) for path in source.rglob("*"))
    if problem := stored_name_problem(name for name in names if not has_ignored_part(name)):
        raise SourceError(f"data.source: {source}: {problem}")
    fetched = Fetched()
    for directory, subdirectories, files in os.walk(source, followlinks=False):
        here = Path(directory)
        for name in list(subdirectories):
            if is_ignored(name):
                subdirectories.remove(name)
            elif (here / name).is_symlink() and not _inside(here / name, source):
                fetched.skipped.append(readable(str(here / name)))
                subdirectories.remove(name)
        if here == source:
            continue
        for name in files:
            path = here / name
            if is_ignored(name):
                continue
            if path.is_symlink() and (not _inside(path, source) or not path.exists()):
                fetched.skipped.append(readable(str(path)))
                continue
            relative = path.relative_to(source)
            stored = safe_path(relative)
            if stored != relative:
                fetched.renamed[stored.as_posix()] = (readable(relative.as_posix()), rename_reason(str(relative)))
            destination = target / stored
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path.resolve(), destination)
    classes = [entry for entry in source.iterdir() if entry.is_dir() and not is_ignored(entry.name)]
    fetched.empty = sorted(readable(entry.name) for entry in classes if not (target / safe_name(entry.name)).is_dir())
    return fetched


def fetch_archive(url: str, target: Path, data: DataParams) -> Fetched:
    """Download (with checksum) next to ``target`` and extract safely straight into it.

    Without ``data.sha256`` the archive's checksum is reported, or refused
    with ``data.require_sha256``.
    """
    if data.sha256 is None and data.require_sha256:
        raise SourceError(
            f"data.require_sha256 is true but data.sha256 is null for {url}; set data.sha256 to the "
            "archive's checksum (`sha256sum` of the file, or a run with require_sha256: false prints it)"
        )
    with tempfile.TemporaryDirectory(prefix="starrec-download-", dir=target.parent) as scratch:
        archive = fetch_url(url, Path(scratch) / "archive", sha256=data.sha256)
        unpinned = sha256_of(archive) if data.sha256 is None else None
        return Fetched(renamed=extract_archive(archive, target, data), unpinned_sha256=unpinned)


def is_url(source: str) -> bool:
    return urllib.parse.urlparse(source).scheme in ("http", "https", "file")


def download_source(data: DataParams, seed: int, target: Path) -> Fetched:
    """Fill ``target`` with ``<class>/<images>`` from ``data.source``; say what was left out or renamed."""
    target.mkdir(parents=True, exist_ok=True)
    if data.source == "digits":
        write_digits(target)
    elif data.source == "synthetic":
        write_synthetic(target, data.synthetic_classes, data.synthetic_per_class, seed)
    elif data.source == "lfw":
        write_lfw(target, data.lfw_home, data.min_images_per_class)
    elif is_url(data.source):
        return fetch_archive(data.source, target, data)
    else:
        return copy_folder(Path(data.source), target)
    return Fetched()


def write_renamed(fetched: Fetched, target: Path) -> None:
    """``target/renamed.csv`` (stored, original, reason) when any name was made safe; nothing otherwise."""
    if fetched.renamed:
        rows = [(stored, original, reason) for stored, (original, reason) in fetched.renamed.items()]
        write_csv(target / artifacts.RENAMED.name, pd.DataFrame(rows, columns=["stored", "original", "reason"]))
