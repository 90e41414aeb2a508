"""The one path from a photo to model-sized RGB arrays: decode, crop the face(s) when asked,
resize. Training data (stage convert), ``starrec predict`` and ``starrec serve`` all take it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from starrec.data.faces import face_crops
from starrec.data.filenames import has_ignored_part
from starrec.data.images import RejectedImage, decode_image, resize
from starrec.errors import MissingInput
from starrec.params import FacesParams


def prepare_photo(path: str | Path, faces: FacesParams, size: int) -> list[np.ndarray]:
    """Decode ``path``, crop its face(s) when ``faces.detect``, resize to ``size``.

    Returns one or more ``(size, size, 3)`` uint8 arrays; raises
    :class:`RejectedImage` with the reason when the file gives none.
    """
    return model_inputs(decode_image(path), faces, size)


def model_inputs(image: np.ndarray, faces: FacesParams, size: int) -> list[np.ndarray]:
    """Face crops (or the whole image) of a decoded RGB image, resized to ``size``."""
    crops = [image]
    if faces.detect:
        crops = face_crops(image, faces)
        if not crops:
            raise RejectedImage("no face found")
    return [resize(crop, size) for crop in crops]


def prepare_folder(folder: str | Path, faces: FacesParams, size: int, key: str) -> tuple[np.ndarray, list[str]]:
    """Every photo under ``folder`` (hidden and system files skipped) through :func:`prepare_photo`: the
    stacked crops ``(n, size, size, 3)`` uint8 and the files that gave none, each with its reason. MissingInput
    naming the params ``key`` if the folder is missing or no photo in it gives a crop."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingInput(f"{key}: {folder}: no such folder")
    crops, refused = [], []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not has_ignored_part(p.relative_to(folder))):
        try:
            crops += prepare_photo(path, faces, size)
        except (RejectedImage, OSError) as error:
            refused.append(f"{path.relative_to(folder)}: {error}")
    if not crops:
        raise MissingInput(f"{key}: {folder}: no photo in it could be read ({len(refused)} files)")
    return np.stack(crops), refused
