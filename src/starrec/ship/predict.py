"""Predict the top-k classes of photos with a trained model.

Photos go through :func:`starrec.data.photos.prepare_photo` (decode, face crop,
resize), the same path as the training data, with the face settings saved with
the model (:class:`starrec.model_info.ModelInfo`); the model holds the rest of the
preprocessing (grayscale, normalisation). The model is ``model.keras`` or any
export of it (:mod:`starrec.ship.classifiers`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from starrec.data.images import RejectedImage
from starrec.data.photos import prepare_photo
from starrec.ship.classifiers import load_classifier


def predict_photos(photos: list[Path], model_path: Path, top_k: int = 3) -> list[dict]:
    """One result per photo (per face with ``faces.multiple: all``), best class first; ``sure`` is false where
    the top probability is under the model's ``min_confidence`` (metrics/calibration.json).

    A photo that cannot be read gives ``{"photo", "error"}``; the others are still predicted.
    """
    classifier = load_classifier(model_path)
    classes = classifier.info.classes
    results: list[dict] = []
    for photo in photos:
        try:
            crops = prepare_photo(photo, classifier.info.faces, classifier.image_size)
        except (RejectedImage, OSError) as error:
            results.append({"photo": str(photo), "error": str(error)})
            continue
        probabilities = classifier.probabilities(np.stack(crops).astype(np.float32))
        for face, row in enumerate(probabilities):
            result: dict = {
                "photo": str(photo),
                "sure": is_sure(row, classifier.info.min_confidence),
                "predictions": top_classes(row, classes, top_k),
            }
            if len(crops) > 1:
                result["face"] = face
            results.append(result)
    return results


def top_classes(probabilities: np.ndarray, classes: list[str], top_k: int) -> list[dict]:
    """``[{"class", "probability"}, ...]`` of the ``top_k`` most probable classes, best first."""
    best = np.argsort(probabilities)[::-1][:top_k]
    return [{"class": classes[i], "probability": float(probabilities[i])} for i in best]


def is_sure(probabilities: np.ndarray, min_confidence: float) -> bool:
    """Whether the top probability reaches the model's ``min_confidence`` (else the answer is "not sure")."""
    return bool(probabilities.max() >= min_confidence)


def format_predictions(results: list[dict]) -> str:
    """Human-readable lines: the photo ("not sure" under the model's min_confidence), then its top-k classes
    with percentages."""
    lines = []
    for result in results:
        if "error" in result:
            continue
        face = f" (face {result['face']})" if "face" in result else ""
        doubt = "" if result.get("sure", True) else " not sure; the closest classes"
        lines.append(f"{result['photo']}{face}:{doubt}")
        lines += [f"  {p['class']:<24} {p['probability']:7.2%}" for p in result["predictions"]]
    return "\n".join(lines)
