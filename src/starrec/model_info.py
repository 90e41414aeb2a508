"""What a photo needs besides the network (:class:`ModelInfo`), in the two places it is kept: the
``starrec.json`` entry inside ``model.keras`` (:mod:`starrec.train.model_file`) and the ``starrec.json``
file beside the exports, which adds their image size and sha256s (:class:`ExportInfo`). No TensorFlow
here: the lean service (``starrec[serve]``) reads exports with it."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import PurePath

from starrec import __version__
from starrec.errors import StarrecError
from starrec.params import FacesParams, ImageParams
from starrec.schema import ParamsError, build

_SIZE = next(f for f in dataclasses.fields(ImageParams) if f.name == "size").metadata["range"]
MIN_SIZE, MAX_SIZE = int(_SIZE.low), int(_SIZE.high)  # image.size's range

INFO_NAME = "starrec.json"
"""The entry of the ``.keras`` zip that holds :class:`ModelInfo` (Keras ignores it), and the file beside
the exports (stage export) that holds :class:`ExportInfo`."""


class ModelFileError(StarrecError, ValueError):
    """The model file is missing, damaged or not one of starrec's; the message says how to rebuild it."""


@dataclass(frozen=True)
class ModelInfo:
    """What a photo needs besides the network: the class names (output order), the face crop used in
    training (size, grayscale and normalisation are the model's own layers) and the least top probability it
    answers with; and the starrec version that made the model ("unknown" for a model from before versions
    were recorded)."""

    classes: list[str]
    faces: FacesParams
    min_confidence: float = 0.0
    """Under this top probability, predict and serve answer "not sure" (0: always sure; files before 0.3)."""
    version: str = __version__

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)


@dataclass(frozen=True)
class ExportInfo:
    """The exports' ``starrec.json``: the model's :class:`ModelInfo`, its input size and each export's sha256."""

    info: ModelInfo
    image_size: int
    sha256: dict[str, str]

    def to_json(self) -> str:
        return json.dumps(
            {**dataclasses.asdict(self.info), "image_size": self.image_size, "sha256": self.sha256}, indent=2
        )


def parse_model_info(text: str | bytes) -> ModelInfo:
    """The :class:`ModelInfo` of its JSON (other keys are ignored), every field checked as params.yaml's are
    (``faces.scale_factor`` 1.0 would never end in OpenCV); KeyError/TypeError/ValueError if invalid."""
    saved = json.loads(text)
    classes = saved["classes"]
    if not (isinstance(classes, list) and classes and all(isinstance(name, str) and name for name in classes)):
        raise ValueError("classes: not a list of class names")
    try:
        faces = build(FacesParams, saved["faces"], "faces")
    except ParamsError as error:
        raise ValueError(str(error).removeprefix("params.yaml: ")) from None
    threshold = saved.get("min_confidence", 0.0)
    if not (isinstance(threshold, (int, float)) and not isinstance(threshold, bool) and 0.0 <= threshold <= 1.0):
        raise ValueError(f"min_confidence: {threshold!r}; allowed: a number from 0 to 1")
    return ModelInfo(list(classes), faces, float(threshold), str(saved.get("version", "unknown")))


SHA256 = re.compile(r"^[0-9a-f]{64}$")


def parse_export_info(text: str | bytes) -> ExportInfo:
    """The :class:`ExportInfo` of its JSON; KeyError/TypeError/ValueError if invalid. Beside an export its
    cascade can only be a file name of OpenCV's own data folder: a path would open any file of the server."""
    saved = json.loads(text)
    info, sha256, size = parse_model_info(text), saved["sha256"], saved["image_size"]
    if not (isinstance(sha256, dict) and all(isinstance(v, str) and SHA256.match(v) for v in sha256.values())):
        raise TypeError("sha256 is not a mapping of export names to 64 hexadecimal digits")
    if not (isinstance(size, int) and not isinstance(size, bool) and MIN_SIZE <= size <= MAX_SIZE):
        raise ValueError(f"image_size: {size!r}; allowed: an integer from {MIN_SIZE} to {MAX_SIZE}")
    if PurePath(info.faces.cascade).name != info.faces.cascade or info.faces.cascade in ("", ".", ".."):
        raise ValueError(f"faces.cascade: {info.faces.cascade!r}; allowed: a file name of OpenCV's data folder")
    return ExportInfo(info, size, {str(k): v for k, v in sha256.items()})
