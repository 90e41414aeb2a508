"""What a photo needs besides the network (:class:`ModelInfo`), in the two places it is kept: the
``starrec.json`` entry inside ``model.keras`` (:mod:`starrec.train.model_file`) and the ``starrec.json``
file beside the exports, which adds their image size and sha256s (:class:`ExportInfo`). No TensorFlow
here: the lean service (``starrec[serve]``) reads exports with it."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from starrec import __version__
from starrec.errors import StarrecError
from starrec.params import FacesParams

INFO_NAME = "starrec.json"
"""The entry of the ``.keras`` zip that holds :class:`ModelInfo` (Keras ignores it), and the file beside
the exports (stage export) that holds :class:`ExportInfo`."""


class ModelFileError(StarrecError, ValueError):
    """The model file is missing, damaged or not one of starrec's; the message says how to rebuild it."""


@dataclass(frozen=True)
class ModelInfo:
    """What a photo needs besides the network: the class names (output order) and the face
    crop used in training (size, grayscale and normalisation are the model's own layers); and the
    starrec version that made the model ("unknown" for a model from before versions were recorded)."""

    classes: list[str]
    faces: FacesParams
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
    """The :class:`ModelInfo` of its JSON (other keys are ignored); KeyError/TypeError/ValueError if invalid."""
    saved = json.loads(text)
    version = str(saved.get("version", "unknown"))
    return ModelInfo(classes=list(saved["classes"]), faces=FacesParams(**saved["faces"]), version=version)


def parse_export_info(text: str | bytes) -> ExportInfo:
    """The :class:`ExportInfo` of its JSON; KeyError/TypeError/ValueError if invalid."""
    saved = json.loads(text)
    sha256 = saved["sha256"]
    if not isinstance(sha256, dict):
        raise TypeError("sha256 is not a mapping of export names to digests")
    return ExportInfo(parse_model_info(text), int(saved["image_size"]), {str(k): str(v) for k, v in sha256.items()})
