"""Read the converted data set's index: ``classes.json`` (label order) and ``manifest.csv``
(one row per example: id, class, label, source file, its sha256, its picture's group, original size)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from starrec import artifacts

MANIFEST_COLUMNS = ["id", "class", "label", "source", "sha256", "group", "width", "height"]
REJECTED_COLUMNS = ["source", "class", "reason"]


def load_manifest(path: str | Path) -> pd.DataFrame:
    """``manifest.csv``, names read as text (a class called "NA" stays "NA")."""
    text = {"id": str, "class": str, "source": str, "sha256": str, "group": str}
    return pd.read_csv(path, dtype=text, keep_default_na=False)


def group_by_id(manifest: str | Path, ids) -> np.ndarray:
    """The picture group of each example id, from ``manifest.csv`` (copies of a picture share one)."""
    return load_manifest(manifest).set_index("id").loc[list(ids), "group"].to_numpy()


def load_classes(directory: str | Path) -> list[str]:
    """The class names in label order, from ``<directory>/classes.json``."""
    return json.loads((Path(directory) / artifacts.CLASSES.name).read_text(encoding="utf-8"))
