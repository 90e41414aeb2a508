"""Crop faces with OpenCV's Haar cascades (shipped in opencv-python-headless < 5)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from starrec.params import FacesParams, ParamsError

if TYPE_CHECKING:
    import cv2


@lru_cache(maxsize=4)
def load_cascade(name: str) -> cv2.CascadeClassifier:
    """The cascade ``name`` from OpenCV's data folder (or a path to an XML file)."""
    import cv2

    data = cv2.data.haarcascades  # type: ignore[attr-defined]  # cv2's stubs lack its data module
    path = Path(name) if Path(name).is_file() else Path(data) / name
    classifier = cv2.CascadeClassifier(str(path))
    if classifier.empty():
        available = sorted(p.name for p in Path(data).glob("haarcascade_*.xml"))
        raise ParamsError(f"faces.cascade: cannot load {name!r}; available: {', '.join(available)}")
    return classifier


def detect_faces(image: np.ndarray, faces: FacesParams) -> list[tuple[int, int, int, int]]:
    """Face boxes ``(x, y, w, h)`` in an RGB uint8 image, largest first."""
    import cv2

    gray = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
    boxes = load_cascade(faces.cascade).detectMultiScale(
        gray, scaleFactor=faces.scale_factor, minNeighbors=faces.min_neighbors
    )
    found = [(int(x), int(y), int(w), int(h)) for x, y, w, h in boxes]
    return sorted(found, key=lambda b: (-b[2] * b[3], b[0], b[1]))


def crop_box(image: np.ndarray, box: tuple[int, int, int, int], margin: float) -> np.ndarray:
    """The box grown by ``margin`` x its size on every side, clipped to the image."""
    x, y, w, h = box
    dx, dy = int(round(w * margin)), int(round(h * margin))
    top, left = max(0, y - dy), max(0, x - dx)
    bottom, right = min(image.shape[0], y + h + dy), min(image.shape[1], x + w + dx)
    return image[top:bottom, left:right]


def face_crops(image: np.ndarray, faces: FacesParams) -> list[np.ndarray]:
    """The face crops to keep (``faces.multiple``: the largest one, or all); empty if none."""
    boxes = detect_faces(image, faces)
    if faces.multiple == "largest":
        boxes = boxes[:1]
    return [crop_box(image, box, faces.margin) for box in boxes]
