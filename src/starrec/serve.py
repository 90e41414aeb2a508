"""``starrec serve``: the trained model behind HTTP, and a web page to try it.

    GET  /         the page (starrec/web/index.html): choose or drop a photo, see the top-k
                   classes as bars and the saliency map over the face; plain HTML/JS, offline
    GET  /health   {"status": "ok", "model", "classes", "image_size"}
    POST /predict  a multipart upload in the field ``photo`` ->
                   {"photo", "faces": [{"predictions": [{"class", "probability"}, ...top-k],
                                        "image": PNG data URI of the crop the model saw,
                                        "saliency": PNG data URI of |dS/dx| over it, or null}]}

A photo takes the training path (:func:`starrec.images.decode_bytes`, then
:func:`starrec.ingest.model_inputs`: face crop with the saved face settings, resize), the model
the rest. The model loads once, when the app is made. Every bad upload is a 4xx with the
reason in ``detail``: no length (411), larger than the limit (413), no ``photo`` field or an
empty file (400), not an image, a decompression bomb or no face (422). The saliency map needs
gradients, so only a ``.keras`` model gives one; the exports (:mod:`starrec.classifiers`) give null.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from matplotlib import colormaps
from PIL import Image
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from starrec.classifiers import Classifier, load_classifier
from starrec.images import RejectedImage, decode_bytes
from starrec.ingest import model_inputs
from starrec.predict import top_classes
from starrec.visualize import saliency_function

MULTIPART_OVERHEAD = 16 * 1024
"""Bytes of multipart framing allowed on top of the photo itself."""
SALIENCY_OPACITY = 0.8


def png_data_uri(pixels: np.ndarray) -> str:
    """An (h, w, 3) uint8 image as a ``data:image/png;base64,...`` URI."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def saliency_overlay(crop: np.ndarray, saliency: np.ndarray) -> np.ndarray:
    """The crop under |dS/dx| in the inferno colours: h = saliency / max, opacity 0.8 h per pixel
    (where the class score does not depend on a pixel, the pixel shows as it is)."""
    heat = (saliency / max(float(saliency.max()), 1e-12))[..., None]
    colours = colormaps["inferno"](heat[..., 0])[..., :3] * 255
    opacity = SALIENCY_OPACITY * heat
    return (crop * (1 - opacity) + colours * opacity).astype(np.uint8)


def predict_crops(
    classifier: Classifier,
    explain: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None,
    crops: list[np.ndarray],
    top_k: int,
) -> list[dict]:
    """Top-k classes of each crop, the crop and its saliency overlay (with ``explain``, a
    :func:`starrec.visualize.saliency_function`; else only the probabilities of ``classifier``)."""
    batch = np.stack(crops).astype(np.float32)
    if explain is None:
        probabilities, saliency = classifier.probabilities(batch), None
    else:
        probabilities, saliency = explain(batch)
    faces = []
    for number, (crop, row) in enumerate(zip(crops, probabilities)):
        faces.append(
            {
                "predictions": top_classes(row, classifier.info.classes, top_k),
                "image": png_data_uri(crop),
                "saliency": None if saliency is None else png_data_uri(saliency_overlay(crop, saliency[number])),
            }
        )
    return faces


def create_app(model_path: Path, top_k: int = 3, max_upload_bytes: int = 10 * 2**20) -> FastAPI:
    """The service for the model at ``model_path`` (loaded here, once)."""
    classifier = load_classifier(model_path)
    explain = None if classifier.keras_model is None else saliency_function(classifier.keras_model)
    app = FastAPI(title="starrec", docs_url=None, redoc_url=None)  # the docs pages load scripts from a CDN
    page = files("starrec").joinpath("web/index.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page

    @app.get("/health")
    def health() -> dict:
        return {
            "status": "ok",
            "model": str(classifier.path),
            "classes": classifier.info.classes,
            "image_size": classifier.image_size,
        }

    @app.post("/predict")
    async def predict(request: Request) -> dict:
        length = request.headers.get("content-length")
        if length is None or not length.isdigit():
            raise HTTPException(411, "send the upload with a Content-Length")
        if int(length) > max_upload_bytes + MULTIPART_OVERHEAD:
            raise HTTPException(413, f"upload of {length} bytes is larger than the limit of {max_upload_bytes} bytes")
        async with request.form(max_files=1, max_fields=1) as form:
            upload = form.get("photo")
            if not isinstance(upload, UploadFile):
                raise HTTPException(400, "send the photo as the multipart form field 'photo'")
            data = await upload.read(max_upload_bytes + 1)
        if len(data) > max_upload_bytes:
            raise HTTPException(413, f"photo larger than the limit of {max_upload_bytes} bytes")
        if not data:
            raise HTTPException(400, f"{upload.filename}: empty file")

        def answer() -> dict:
            crops = model_inputs(decode_bytes(data), classifier.info.faces, classifier.image_size)
            return {"photo": upload.filename, "faces": predict_crops(classifier, explain, crops, top_k)}

        try:
            return await run_in_threadpool(answer)
        except RejectedImage as error:
            raise HTTPException(422, f"{upload.filename}: {error}") from None

    return app
