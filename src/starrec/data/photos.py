"""The one path from a photo to model-sized RGB arrays: decode, crop the face(s) when asked,
resize. Training data (stage convert), ``starrec predict`` and ``starrec serve`` all take it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from starrec.data.faces import face_crops
from starrec.data.images import RejectedImage, decode_image, resize
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
